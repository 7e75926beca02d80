/**
 * The doorbell: how processes sharing one database file tell each other "look now". Next to the
 * database `bus.db` sits a folder `bus.db.wake/` holding small files: `requeued`, and one
 * `appended.<stream>` per stream. A process that commits something others may wait for writes the
 * time into the file it concerns, and waiting processes watch the files of the streams they
 * consume (see `wake.ts`). The time lets a waiter skip rings for commits older than its last look,
 * which a busy consumer's watch hands over in numbers once it waits again.
 *
 * One file per stream, because every ring costs each process that hears it: with one file for
 * all, the workers of other streams on the same database woke for every append, and took the
 * CPU the publisher and its consumer needed. Processes of Herald versions that rang the one
 * `appended` file hear this one's appends, and it theirs, only through the backstop poll.
 *
 * Why not watch the database's own folder: `Deno.watchFs` opens and closes the files it reports
 * on (seen with strace: `openat(…/bus.db-shm)`, `close`, on every event). Closing *any*
 * descriptor of a file drops every POSIX advisory lock the process holds on it, so a watch on the
 * database's folder silently drops SQLite's locks on the WAL index (`-shm`); a process opening
 * the database then believes it is alone, re-initialises the shared, memory-mapped WAL index
 * under the others, and they die of SIGBUS or report "file is not a database", or the database is
 * left "malformed" after many short-lived publishers. The doorbell folder holds no SQLite
 * file, so whatever the watch opens there is harmless.
 *
 * @module
 */

/** What a ring announces: events appended to a stream (its own file), or retries requeued. */
export type Ring = "appended" | "requeued";

/**
 * The file of a ring: `requeued`, or `appended.<stream>`. Stream names are safe file names but for
 * `:`, which Windows refuses: it is written `%3A`. (Where names differing only in case share a
 * file, their consumers hear each other's rings: a look for nothing now and then, no harm.)
 */
export function bellFile(kind: Ring, stream?: string): string {
  return kind === "appended" && stream !== undefined
    ? `appended.${encodeURIComponent(stream)}`
    : kind;
}
/** What a ring writes: when it was rung (`Date.now()`, a float64 in this machine's order). */
const STAMP = new Float64Array(1);
const STAMP_BYTES = new Uint8Array(STAMP.buffer);

/** The doorbell folder of a database file. */
export function bellDir(path: string): string {
  return `${path}.wake`;
}

/** One process's side of the doorbell: the bell files kept open to ring them cheaply. */
export class Bell {
  #files = new Map<string, Deno.FsFile>();

  private constructor(readonly dir: string) {}

  /**
   * Opens (creating if needed) the doorbell of the database at `path`. Returns `undefined` when
   * the folder cannot be made (read-only place): the others then notice by their poll.
   */
  static async open(path: string): Promise<Bell | undefined> {
    const bell = new Bell(bellDir(path));
    try {
      await Deno.mkdir(bell.dir, { recursive: true });
      bell.#file("requeued");
      return bell;
    } catch {
      bell.close();
      return undefined;
    }
  }

  /**
   * The path of a bell file, made if missing (a watch needs the file to exist), or `undefined`
   * when it cannot be made.
   */
  path(kind: Ring, stream?: string): string | undefined {
    const name = bellFile(kind, stream);
    return this.#file(name) ? `${this.dir}/${name}` : undefined;
  }

  /** The open bell file of that name, opened (and made) on first use. */
  #file(name: string): Deno.FsFile | undefined {
    let file = this.#files.get(name);
    if (!file) {
      try {
        file = Deno.openSync(`${this.dir}/${name}`, { read: true, write: true, create: true });
      } catch {
        return undefined; // a vanished or read-only folder: the others' poll remains
      }
      this.#files.set(name, file);
    }
    return file;
  }

  /**
   * Rings: the time written in place (no growth), which the others' watch reports as a change
   * of the file. Synchronous and cheap (a seek and an eight-byte write), asked for after each commit
   * that others may be waiting for.
   *
   * Every such commit rings. A throttle (one ring a millisecond at most) needs a timer for the
   * ring that ends a burst, and those timers cost a publisher making one commit after another
   * more than the two system calls of a ring. The waiters do not pay for the rings either while
   * events come that fast: a lingering consumer closes its watch (see `Waker.rest`).
   */
  ring(kind: Ring, stream?: string): void {
    const file = this.#file(bellFile(kind, stream));
    if (!file) return;
    try {
      STAMP[0] = Date.now();
      file.seekSync(0, Deno.SeekMode.Start);
      file.writeSync(STAMP_BYTES);
    } catch {
      // a full or vanished disk: the others' poll remains
    }
  }

  /**
   * When the ring of `kind` was last rung, by any process; `undefined` when the file does not
   * tell (never rung, or rung by a version that wrote one byte).
   */
  lastRing(kind: Ring, stream?: string): number | undefined {
    const file = this.#file(bellFile(kind, stream));
    if (!file) return undefined;
    try {
      file.seekSync(0, Deno.SeekMode.Start);
      const n = file.readSync(STAMP_BYTES);
      const at = STAMP[0];
      return n === STAMP_BYTES.length && Number.isFinite(at) && at > 0 ? at : undefined;
    } catch {
      return undefined;
    }
  }

  /** Closes the bell files. */
  close(): void {
    for (const file of this.#files.values()) {
      try {
        file.close();
      } catch {
        // already closed
      }
    }
    this.#files.clear();
  }
}

/** Which ring a path reported by the watch is, if any. */
export function ringOf(path: string): Ring | undefined {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (name === "requeued") return "requeued";
  return name.startsWith("appended.") ? "appended" : undefined;
}
