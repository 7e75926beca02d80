/**
 * Role: the raw commit rate of Deno KV on a file, in one process: sequential atomic commits of
 * one 200-byte value, or of `batch` values each, for `seconds`.
 *
 * @module
 */
import { now, tickJson } from "./_clock.ts";
import { params, send } from "./_role.ts";

const p = params<{ path: string; batch: number; seconds: number }>();
const kv = await Deno.openKv(p.path);
let commits = 0;
let seq = 0;
const start = now();
const end = start + p.seconds * 1000;
while (now() < end) {
  const op = kv.atomic();
  for (let i = 0; i < p.batch; i++, seq++) op.set(["c", seq], tickJson(seq));
  if (!(await op.commit()).ok) throw new Error("commit failed");
  commits++;
}
const seconds = (now() - start) / 1000;
kv.close();
send({ result: { commitsPerSec: commits / seconds, eventsPerSec: seq / seconds } });
