/**
 * Role: a BullMQ producer (npm `bullmq` in Deno): `queue.add` per job, or `queue.addBulk` of
 * `batch` jobs; each job's data is the 200-byte tick.
 *
 * @module
 */
import { tick } from "./_clock.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<ProducerParams & { queue: string; host: string; port: number }>();
// Loaded by a computed name so that type checks and the lock file never pull BullMQ in.
const { Queue } = await import(["npm:bullmq", "5"].join("@"));
const queue = new Queue(p.queue, { connection: { host: p.host, port: p.port } });
const opts = { removeOnComplete: true, removeOnFail: true };
await produce(
  p,
  async (seq) => {
    await queue.add("tick", tick(seq), opts);
  },
  async (seqs) => {
    await queue.addBulk(seqs.map((seq) => ({ name: "tick", data: tick(seq), opts })));
  },
);
await queue.close();
