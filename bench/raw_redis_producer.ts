/**
 * Role: a bare Redis Streams producer: `XADD stream * d <200-byte JSON>`, one command per event
 * or a pipeline of `batch` commands.
 *
 * @module
 */
import { tickJson } from "./_clock.ts";
import { connect, type RawTarget } from "./_redis_raw.ts";
import { profileFetch, profileIoredis } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<ProducerParams & RawTarget & { stream: string }>();
const http = p.transport === "rest" ? profileFetch() : undefined;
const tcp = p.transport === "tcp" ? await profileIoredis() : undefined;
const conn = await connect(p);
await produce(
  p,
  async (seq) => {
    await conn.run(["XADD", p.stream, "*", "d", tickJson(seq)]);
  },
  async (seqs) => {
    await conn.pipeline(seqs.map((seq) => ["XADD", p.stream, "*", "d", tickJson(seq)]));
  },
  () => ({ http: http?.(), redis: tcp?.() }),
);
await conn.close();
