/**
 * Commands that ride in the request of a consumer's next claim, for clients that cannot block
 * (REST): every REST command is an HTTP request, which costs the client, the endpoint and the
 * round trip far more than Redis's work, so a settle goes out together with the poll that comes
 * next rather than in a request of its own.
 *
 * @module
 */
import type { RedisArg } from "./client.ts";
import { RedisReplyError } from "./client.ts";

/**
 * The longest a rider waits, once no claim's request is in flight, for a claim to carry it; it
 * then goes alone. A busy consumer polls again at once or within a millisecond or two; an idle
 * one waits longer and longer between polls, and a worker at its concurrency limit does not
 * claim at all. (Waking a waiting claim to carry the rider at once was measured: the extra polls
 * cost more requests than the riders saved.)
 */
const RIDE_MS = 5;

interface Rider {
  command: readonly RedisArg[];
  resolve(reply: unknown): void;
  reject(err: unknown): void;
}

/** The riders of one backend, and the claims that can carry them. */
export class Riders {
  #riders: Rider[] = [];
  #claims = 0;
  // Claim requests in flight: a claim that waits for one sends its next soon after.
  #sending = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #send: (commands: (readonly RedisArg[])[]) => Promise<unknown[]>;

  /** @param send Sends commands alone in one request (when no claim carries them in time). */
  constructor(send: (commands: (readonly RedisArg[])[]) => Promise<unknown[]>) {
    this.#send = send;
  }

  /** A claim that can carry riders starts; call the returned function when it ends. */
  claiming(): () => void {
    this.#claims++;
    return () => {
      this.#claims--;
      this.#arm();
    };
  }

  /** A claim's request goes out; call the returned function when its reply is in. */
  sending(): () => void {
    this.#sending++;
    return () => {
      this.#sending--;
      this.#arm();
    };
  }

  /**
   * Sends `command` with the next claim's request, or `undefined` when no claim is running
   * (the caller then sends it alone). Resolves with its reply; an error reply rejects with a
   * {@linkcode RedisReplyError}.
   */
  ride(command: readonly RedisArg[]): Promise<unknown> | undefined {
    if (this.#claims === 0) return undefined;
    const riding = new Promise<unknown>((resolve, reject) => {
      this.#riders.push({ command, resolve, reject });
    });
    this.#arm();
    return riding;
  }

  // Riders wait, and no claim's request is in flight: they go alone unless a claim takes them
  // within RIDE_MS.
  #arm(): void {
    if (this.#riders.length > 0 && (this.#sending === 0 || this.#claims === 0)) {
      this.#timer ??= setTimeout(() => this.flush(), RIDE_MS);
    }
  }

  /** Takes the riders for a claim's request: their commands go first in it. */
  take(): Carried {
    if (this.#riders.length === 0) return NONE;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return new Carried(this.#riders.splice(0));
  }

  /** Sends the riders that wait, alone (no claim carried them in time, or the backend closes). */
  flush(): void {
    const carried = this.take();
    if (carried.commands.length === 0) return;
    this.#send(carried.commands).then((replies) => carried.answer(replies), (err) => {
      carried.fail(err);
    });
  }
}

/** Riders taken into one request. */
export class Carried {
  readonly commands: (readonly RedisArg[])[];
  #riders: Rider[];

  constructor(riders: Rider[]) {
    this.#riders = riders;
    this.commands = riders.map((r) => r.command);
  }

  /** Hands each rider its reply from the front of `replies`, and returns the others. */
  answer(replies: unknown[]): unknown[] {
    const n = this.#riders.length;
    for (let i = 0; i < n; i++) {
      const reply = replies[i];
      if (reply instanceof RedisReplyError) this.#riders[i].reject(reply);
      else this.#riders[i].resolve(reply);
    }
    return n === 0 ? replies : replies.slice(n);
  }

  /** The request failed: so did every rider. */
  fail(err: unknown): void {
    for (const r of this.#riders) r.reject(err);
  }
}

const NONE = new Carried([]);
