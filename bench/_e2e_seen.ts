/**
 * When a user becomes visible in a service, seen from outside it by reading the service's own
 * Deno KV file (`<data dir>/<service>.sqlite`, key `["users", id]`): one `getMany` per 10 waiting
 * users every `everyMs`, where polling `GET /users/:id` every 5 ms for 50 registrations at once
 * sends thousands of requests a second that the services answer on the same two cores as their
 * handlers, and so measures the poll as much as the app.
 *
 * @module
 */

/** Watches one service's database for users to appear. */
export class SeenWatcher {
  #db: Deno.Kv;
  #waiting = new Map<string, (at: number) => void>();
  #timer?: ReturnType<typeof setTimeout>;
  #everyMs: number;
  #now: () => number;

  private constructor(db: Deno.Kv, everyMs: number, now: () => number) {
    this.#db = db;
    this.#everyMs = everyMs;
    this.#now = now;
  }

  /** Opens the service's database file read beside the running service. */
  static async open(path: string, now: () => number, everyMs = 2): Promise<SeenWatcher> {
    return new SeenWatcher(await Deno.openKv(path), everyMs, now);
  }

  /** Resolves with the wall time of the first read that found the user. */
  seen(id: string): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#waiting.set(id, resolve);
    this.#timer ??= setTimeout(() => this.#look(), 0);
    return promise;
  }

  async #look(): Promise<void> {
    const ids = [...this.#waiting.keys()];
    for (let i = 0; i < ids.length; i += 10) {
      const chunk = ids.slice(i, i + 10);
      const entries = await this.#db.getMany(chunk.map((id) => ["users", id]));
      const at = this.#now();
      entries.forEach((e, j) => {
        if (e.value === null) return;
        this.#waiting.get(chunk[j])!(at);
        this.#waiting.delete(chunk[j]);
      });
    }
    this.#timer = this.#waiting.size > 0
      ? setTimeout(() => this.#look(), this.#everyMs)
      : undefined;
  }

  /** Closes the database. */
  close(): void {
    clearTimeout(this.#timer);
    this.#db.close();
  }
}
