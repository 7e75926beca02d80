/**
 * Role: a bare Redis Streams consumer: `XREADGROUP … COUNT 100` (blocking over TCP; over REST,
 * which cannot block, polled again at once after a non-empty read and after 2 ms otherwise),
 * handle, `XACK`.
 *
 * With `wake: "xread"` (TCP only) it waits the way Herald's Redis backend does: a blocking
 * `XREAD` on a second connection, then a non-blocking `XREADGROUP` on the first, to show what
 * the extra round trip costs. With `envelopes`, entries are Herald's (an envelope whose `data` is
 * the tick), as its `publish()` appends them, under `streamKey` (`stream` names Herald's stream for
 * the publisher).
 *
 * @module
 */
import { sleep, type Tick } from "./_clock.ts";
import { connect, type RawTarget } from "./_redis_raw.ts";
import { profileFetch, profileIoredis } from "./_profile.ts";
import { type ConsumerParams, params, Recorder, stopRequested } from "./_role.ts";

const p = params<
  ConsumerParams & RawTarget & {
    stream: string;
    index?: number;
    wake?: "xread";
    envelopes?: boolean;
    streamKey?: string;
  }
>();
const http = p.transport === "rest" ? profileFetch() : undefined;
const tcp = p.transport === "tcp" ? await profileIoredis() : undefined;
const conn = await connect(p);
const key = p.streamKey ?? p.stream;
const waker = p.wake === "xread" ? await connect(p) : undefined;
const group = "raw";
const consumer = `c${p.index ?? 0}`;
try {
  await conn.run(["XGROUP", "CREATE", key, group, "0", "MKSTREAM"]);
} catch (err) {
  if (!String(err).includes("BUSYGROUP")) throw err;
}
const recorder = new Recorder(p);
let stopped = false;
stopRequested().then(() => stopped = true);
recorder.ready();
const block = p.transport === "tcp" && !waker ? ["BLOCK", 200] : [];
type Reply = [string, [string, string[]][]][] | null;
let lastId = "0";
while (!stopped) {
  const reply = await conn.run(
    ["XREADGROUP", "GROUP", group, consumer, "COUNT", 100, ...block, "STREAMS", key, ">"],
  ) as Reply;
  const entries = reply?.[0]?.[1] ?? [];
  for (const [, fields] of entries) {
    const value = JSON.parse(fields[1]);
    const tick = (p.envelopes ? value.data : value) as Tick;
    recorder.record(tick.seq, tick.t);
  }
  if (entries.length > 0) {
    lastId = entries[entries.length - 1][0];
    await conn.run(["XACK", key, group, ...entries.map(([id]) => id)]);
  } else if (waker) {
    await waker.run(["XREAD", "COUNT", 1, "BLOCK", 200, "STREAMS", key, lastId]);
  } else if (p.transport === "rest") {
    await sleep(2);
  }
}
recorder.finish({ http: http?.(), redis: tcp?.() });
await conn.close();
await waker?.close();
