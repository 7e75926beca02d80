/**
 * Role: a bare Deno KV producer. Writes 200-byte events under `["ev", seq]` in the database file
 * `path`, one atomic commit per event or per batch. With `spans`, one producer span per event
 * (see `_spans.ts`), whose `traceparent` is stored with the event.
 *
 * @module
 */
import { tickJson } from "./_clock.ts";
import { profileKv } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";
import { producerSpan } from "./_spans.ts";

const p = params<ProducerParams & { path: string; spans?: boolean }>();
const profile = profileKv();
const kv = await Deno.openKv(p.path);
await produce(
  p,
  async (seq) => {
    if (p.spans) return await producerSpan("ev", (traceparent) => write(seq, traceparent));
    const res = await kv.atomic().set(["ev", seq], tickJson(seq)).commit();
    if (!res.ok) throw new Error("commit failed");
  },
  async (seqs) => {
    const op = kv.atomic();
    for (const seq of seqs) op.set(["ev", seq], tickJson(seq));
    if (!(await op.commit()).ok) throw new Error("commit failed");
  },
  () => ({ kv: profile() }),
);
kv.close();

/** One event with the `traceparent` of its producer span after it. */
async function write(seq: number, traceparent: string | undefined): Promise<void> {
  const value = traceparent ? `${tickJson(seq)}\n${traceparent}` : tickJson(seq);
  const res = await kv.atomic().set(["ev", seq], value).commit();
  if (!res.ok) throw new Error("commit failed");
}
