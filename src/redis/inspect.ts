/**
 * Inspection and control of the Redis backend, from what Redis keeps: `SCAN` finds the streams,
 * `XINFO` tells groups, consumers, lag and pending, dead letters are read from the group's
 * dead-letter stream, and `XGROUP SETID`/`DESTROY` reset and delete groups.
 *
 * @module
 */
import type { DeadLetter } from "../backend.ts";
import { NotFoundError } from "../errors.ts";
import {
  checkPosition,
  type ConsumerInfo,
  type DeadLetterQuery,
  findEvent,
  type GroupInfo,
  matchesQuery,
  type PeekOptions,
  type PeekPage,
  type Position,
  type PurgeOptions,
  purgeSelects,
  type Retention,
  type StreamEvent,
  type StreamInfo,
} from "../inspect.ts";
import type { RedisArg } from "./client.ts";
import { byStream } from "./cluster_keys.ts";
import { parseDeadLetter, type StoredDeadLetter } from "./dead.ts";
import { compareIds } from "./lease_args.ts";
import { fieldsObject, type Keys, readEntry } from "./keys.ts";

/** The largest sequence part of a stream entry id. */
const MAX_SEQ = 18446744073709551615n;
/** Entries read per `XRANGE` page. */
const PAGE = 500;
/** When Redis cannot tell a group's lag, it is counted up to this many entries. */
const LAG_COUNT_MAX = 10_000;

type Command = (args: readonly RedisArg[]) => Promise<unknown>;

/** Reads and steers the streams and groups under one backend's prefix. */
export class RedisInspector {
  constructor(
    private readonly command: Command,
    private readonly keys: Keys,
    private readonly retention: Retention | undefined,
  ) {}

  /** The names of the streams under the prefix. */
  async streamNames(): Promise<string[]> {
    const pattern = `${globEscape(this.keys.stream(""))}*`;
    const names = new Set<string>();
    let cursor = "0";
    do {
      const [next, found] = await this.command(
        ["SCAN", cursor, "MATCH", pattern, "COUNT", 1000],
      ) as [string, string[]];
      cursor = String(next);
      for (const key of found) names.add(key.slice(this.keys.stream("").length));
    } while (cursor !== "0");
    return [...names].sort();
  }

  async streams(): Promise<StreamInfo[]> {
    const out: StreamInfo[] = [];
    for (const stream of await this.streamNames()) {
      const info = await this.#info(["XINFO", "STREAM", this.keys.stream(stream)]);
      if (!info) continue;
      const s: StreamInfo = { stream, length: Number(info.length) };
      const first = info["first-entry"] as [string, unknown[]] | null;
      const last = info["last-entry"] as [string, unknown[]] | null;
      if (first) s.firstTime = entryTime(first);
      if (last) s.lastTime = entryTime(last);
      if (this.retention) s.retention = { ...this.retention };
      out.push(s);
    }
    return out;
  }

  async groups(stream?: string): Promise<GroupInfo[]> {
    const out: GroupInfo[] = [];
    const dead = new Map<string, number>();
    for (const s of stream === undefined ? await this.streamNames() : [stream]) {
      for (const g of await this.#groupsOf(this.keys.stream(s))) {
        const name = String(g.name);
        if (!dead.has(name)) {
          let n = 0;
          for (const key of await this.#deadKeys(name)) {
            n += Number(await this.command(["XLEN", key]));
          }
          dead.set(name, n);
        }
        out.push(await this.#group(name, s, g, dead.get(name)!));
      }
    }
    return out.sort((a, b) => a.group < b.group ? -1 : a.group > b.group ? 1 : 0);
  }

  async #group(
    group: string,
    stream: string,
    g: Record<string, unknown>,
    dead: number,
  ): Promise<GroupInfo> {
    const sk = this.keys.stream(stream), rk = this.keys.redrive(stream, group);
    const last = String(g["last-delivered-id"]);
    const redrive = (await this.#groupsOf(rk)).find((x) => String(x.name) === group);
    const pending = Number(g.pending) + Number(redrive?.pending ?? 0) +
      Number(redrive ? await this.#lag(rk, redrive) : 0);
    const info: GroupInfo = {
      group,
      stream,
      position: last === "0-0" ? null : last,
      lag: await this.#lag(sk, g),
      pending,
      consumers: await this.#consumers([sk, ...(redrive ? [rk] : [])], group),
      deadLetters: dead,
    };
    if (info.lag > 0) {
      const [first] = await this.command(["XRANGE", sk, `(${last}`, "+", "COUNT", 1]) as [string][];
      if (first) info.oldestWaitingMs = Math.max(0, Date.now() - Number(first[0].split("-")[0]));
    }
    const oldest = [
      await this.#oldestPending(sk, group),
      ...(redrive ? [await this.#oldestPending(rk, group)] : []),
    ].filter((t): t is number => t !== undefined);
    if (oldest.length > 0) info.oldestPendingMs = Math.max(0, Date.now() - Math.min(...oldest));
    return info;
  }

  /** A group's lag as Redis tells it, or counted when Redis cannot tell (after deletions). */
  async #lag(key: string, g: Record<string, unknown>): Promise<number> {
    if (typeof g.lag === "number") return g.lag;
    let from = `(${g["last-delivered-id"]}`;
    let n = 0;
    while (n < LAG_COUNT_MAX) {
      const page = await this.command(["XRANGE", key, from, "+", "COUNT", PAGE]) as [string][];
      n += page.length;
      if (page.length < PAGE) break;
      from = `(${page[page.length - 1][0]}`;
    }
    return n;
  }

  async #oldestPending(key: string, group: string): Promise<number | undefined> {
    const summary = await this.command(["XPENDING", key, group]) as unknown[];
    const min = summary?.[1];
    return typeof min === "string" ? Number(min.split("-")[0]) : undefined;
  }

  async #consumers(keys: string[], group: string): Promise<ConsumerInfo[]> {
    const seen = new Map<string, number>();
    const now = Date.now();
    for (const key of keys) {
      const list = await this.command(["XINFO", "CONSUMERS", key, group]) as unknown[][];
      for (const c of list.map(pairs)) {
        const at = now - Number(c.idle ?? 0);
        seen.set(String(c.name), Math.max(seen.get(String(c.name)) ?? 0, at));
      }
    }
    return [...seen].map(([name, at]) => ({ name, lastSeen: new Date(at).toISOString() }));
  }

  async #groupsOf(key: string): Promise<Record<string, unknown>[]> {
    try {
      return (await this.command(["XINFO", "GROUPS", key]) as unknown[][]).map(pairs);
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) return [];
      throw err;
    }
  }

  async #info(args: RedisArg[]): Promise<Record<string, unknown> | undefined> {
    try {
      return pairs(await this.command(args) as unknown[]);
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /**
   * The keys of a group's dead letters: one, or in cluster mode one per stream (see
   * cluster_keys.ts).
   */
  async #deadKeys(group: string): Promise<string[]> {
    if (!this.keys.cluster) return [this.keys.dead(group)];
    return (await this.streamNames()).map((s) => this.keys.dead(group, s));
  }

  /** Reads a group's dead letters from `after` on (an entry id), filtered, up to `limit`. */
  async readDead(group: string, query: DeadLetterQuery = {}): Promise<StoredDeadLetter[]> {
    const keys = await this.#deadKeys(group);
    if (keys.length === 1) return await this.#readDead(keys[0], group, query);
    // Cluster mode: each stream's, merged in entry id order (ids are times).
    const all = await Promise.all(keys.map((key) => this.#readDead(key, group, query)));
    const merged = all.flat().sort((a, b) => compareIds(a.entryId, b.entryId));
    return merged.slice(0, query.limit ?? Infinity);
  }

  async #readDead(
    key: string,
    group: string,
    query: DeadLetterQuery,
  ): Promise<StoredDeadLetter[]> {
    const limit = query.limit ?? Infinity;
    const out: StoredDeadLetter[] = [];
    let from = query.after === undefined ? "-" : `(${entryId(query.after)}`;
    while (out.length < limit) {
      const page = await this.command(
        ["XRANGE", key, from, "+", "COUNT", PAGE],
      ) as [string, unknown[]][];
      for (const entry of page) {
        const d = parseDeadLetter(group, entry);
        if (matchesQuery(d.letter, query) && out.length < limit) out.push(d);
      }
      if (page.length < PAGE) break;
      from = `(${page[page.length - 1][0]}`;
    }
    return out;
  }

  async deadLetters(group: string, query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return (await this.readDead(group, query)).map((d) => ({ ...d.letter, cursor: d.entryId }));
  }

  async purgeDeadLetters(group: string, options: PurgeOptions = {}): Promise<number> {
    if (options.ids === undefined && options.before === undefined) {
      let n = 0;
      for (const key of await this.#deadKeys(group)) {
        n += Number(await this.command(["XLEN", key]));
        await this.command(["DEL", key]);
      }
      return n;
    }
    const doomed = (await this.readDead(group)).filter((d) => purgeSelects(d.letter, options));
    let n = 0;
    // In cluster mode each letter is in its stream's dead letters; otherwise all in one.
    const keyOf = (d: StoredDeadLetter) => this.keys.dead(group, d.letter.stream);
    for (const same of byStream(doomed, keyOf)) {
      for (let i = 0; i < same.length; i += PAGE) {
        const ids = same.slice(i, i + PAGE).map((d) => d.entryId);
        n += Number(await this.command(["XDEL", keyOf(same[0]), ...ids]));
      }
    }
    return n;
  }

  async deleteGroup(group: string, stream?: string): Promise<boolean> {
    let found = false;
    const streams = stream === undefined ? await this.streamNames() : [stream];
    for (const s of streams) {
      const sk = this.keys.stream(s);
      if (!(await this.#groupsOf(sk)).some((g) => String(g.name) === group)) continue;
      await this.command(["XGROUP", "DESTROY", sk, group]);
      await this.command([
        "DEL",
        this.keys.timers(s, group),
        this.keys.redrive(s, group),
        this.keys.redriveTimers(s, group),
        ...this.keys.gate(s, group),
      ]);
      found = true;
    }
    if (stream === undefined) {
      for (const key of await this.#deadKeys(group)) {
        found = Number(await this.command(["DEL", key])) > 0 || found;
      }
    }
    return found;
  }

  async resetGroup(group: string, stream: string, to: Position): Promise<void> {
    const sk = this.keys.stream(stream);
    if (!(await this.#groupsOf(sk)).some((g) => String(g.name) === group)) {
      throw new NotFoundError("group", `No group "${group}" on stream "${stream}"`);
    }
    const id = checkPosition(to) === "latest" ? "$" : await this.#before(stream, to);
    await this.command(["XGROUP", "SETID", sk, group, id]);
  }

  async peek(stream: string, options: PeekOptions = {}): Promise<PeekPage> {
    const key = this.keys.stream(stream);
    let after = options.after === undefined ? undefined : entryId(options.after);
    if (after === undefined) {
      const from = checkPosition(options.from ?? "earliest");
      if (from === "latest") {
        const [last] = await this.command(["XREVRANGE", key, "+", "-", "COUNT", 1]) as [string][];
        after = last?.[0] ?? "0-0";
      } else after = await this.#before(stream, from);
    }
    const page = await this.command(
      ["XRANGE", key, `(${after}`, "+", "COUNT", options.limit ?? 50],
    ) as [string, unknown[]][];
    const events: StreamEvent[] = page.map(([id, fields]) => {
      const read = readEntry(fieldsObject(fields));
      return read.envelope
        ? { position: id, envelope: read.envelope }
        : { position: id, raw: read.malformed?.raw };
    });
    return { events, next: events.at(-1)?.position ?? after };
  }

  /** The entry id just before where `to` points ("latest" excepted). */
  async #before(stream: string, to: Position): Promise<string> {
    if (to === "earliest" || to === "latest") return "0-0";
    if (to instanceof Date) return previousId(`${Math.max(0, to.getTime())}-0`);
    return previousId(await findEvent((o) => this.peek(stream, o), stream, to.eventId));
  }
}

/** The entry id right before `id`. */
export function previousId(id: string): string {
  const [ms, seq] = id.split("-").map(BigInt);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_SEQ}` : "0-0";
}

/** Checks a position given back by a caller: a stream entry id. */
function entryId(text: string): string {
  if (typeof text !== "string" || !/^\d+-\d+$/.test(text)) {
    throw new TypeError(`Not a position: ${JSON.stringify(text)}`);
  }
  return text;
}

/** A flat `[name, value, …]` reply as an object. */
function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** An entry's event time, or the time in its id when it holds no event. */
function entryTime([id, fields]: [string, unknown[]]): string {
  const t = Date.parse(readEntry(fieldsObject(fields)).envelope?.time ?? "");
  return new Date(Number.isNaN(t) ? Number(id.split("-")[0]) : t).toISOString();
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
