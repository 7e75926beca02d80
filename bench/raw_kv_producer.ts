/**
 * Role: a bare Deno KV producer. Writes 200-byte events under `["ev", seq]` in the database file
 * `path`, one atomic commit per event or per batch.
 *
 * @module
 */
import { tickJson } from "./_clock.ts";
import { profileKv } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<ProducerParams & { path: string }>();
const profile = profileKv();
const kv = await Deno.openKv(p.path);
await produce(
  p,
  async (seq) => {
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
