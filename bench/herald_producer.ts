/**
 * Role: a Herald producer: sequential `bus.publish` calls, or `bus.publishMany` of `batch`
 * events, through the public API.
 *
 * @module
 */
import { createBus } from "@herald/herald";
import { tick } from "./_clock.ts";
import { type BackendSpec, makeBackend, Tick } from "./_herald.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<ProducerParams & { backend: BackendSpec }>();
const bus = createBus({ backend: await makeBackend(p.backend), source: "bench" });
await produce(
  p,
  async (seq) => {
    await bus.publish(Tick, tick(seq));
  },
  async (seqs) => {
    await bus.publishMany(seqs.map((seq) => ({ contract: Tick, data: tick(seq) })));
  },
);
await bus.close();
