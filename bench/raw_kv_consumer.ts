/**
 * Role: a bare Deno KV consumer. Every 5 ms it lists the `["ev"]` key range of the database file
 * `path`, handles what it read and deletes it in one atomic commit. A full page is followed at
 * once by the next poll. With `spans`, one consumer span per event, child of the `traceparent`
 * stored with it (see `_spans.ts`).
 *
 * @module
 */
import { sleep, type Tick } from "./_clock.ts";
import { profileKv } from "./_profile.ts";
import { type ConsumerParams, params, Recorder, stopRequested } from "./_role.ts";
import { consumerSpan } from "./_spans.ts";

const PAGE = 500;
const p = params<ConsumerParams & { path: string; spans?: boolean }>();
const profile = profileKv();
const kv = await Deno.openKv(p.path);
const recorder = new Recorder(p);
let stopped = false;
stopRequested().then(() => stopped = true);
recorder.ready();
while (!stopped) {
  const op = kv.atomic();
  let read = 0;
  for await (const entry of kv.list<string>({ prefix: ["ev"] }, { limit: PAGE })) {
    if (p.spans) {
      const [json, traceparent] = entry.value.split("\n");
      const tick = JSON.parse(json) as Tick;
      consumerSpan("ev", traceparent, () => recorder.record(tick.seq, tick.t));
    } else {
      const tick = JSON.parse(entry.value) as Tick;
      recorder.record(tick.seq, tick.t);
    }
    op.delete(entry.key);
    read++;
  }
  if (read > 0) {
    try {
      await op.commit();
    } catch (err) {
      recorder.error(err);
    }
  }
  if (read < PAGE) await sleep(5);
}
recorder.finish({ kv: profile() });
kv.close();
