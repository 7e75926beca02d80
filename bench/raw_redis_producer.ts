/**
 * Role: a bare Redis Streams producer: `XADD stream * d <200-byte JSON>`, one command per event
 * or a pipeline of `batch` commands. With `envelopes`, each entry is what Herald's `publish()`
 * appends instead (`e` and the envelope's JSON), so that a Herald worker can consume it; the key
 * is then `streamKey` (`stream` names Herald's stream for the worker).
 *
 * @module
 */
import { createEnvelope } from "@herald/herald";
import { tick, tickJson } from "./_clock.ts";
import { connect, type RawTarget } from "./_redis_raw.ts";
import { Tick } from "./_herald.ts";
import { profileFetch, profileIoredis } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<
  ProducerParams & RawTarget & { stream: string; envelopes?: boolean; streamKey?: string }
>();
const http = p.transport === "rest" ? profileFetch() : undefined;
const tcp = p.transport === "tcp" ? await profileIoredis() : undefined;
const conn = await connect(p);
const key = p.streamKey ?? p.stream;
const field = p.envelopes ? "e" : "d";
const value = p.envelopes
  ? (seq: number) => JSON.stringify(createEnvelope(Tick.stream, Tick.type, tick(seq), "bench"))
  : tickJson;
await produce(
  p,
  async (seq) => {
    await conn.run(["XADD", key, "*", field, value(seq)]);
  },
  async (seqs) => {
    await conn.pipeline(seqs.map((seq) => ["XADD", key, "*", field, value(seq)]));
  },
  () => ({ http: http?.(), redis: tcp?.() }),
);
await conn.close();
