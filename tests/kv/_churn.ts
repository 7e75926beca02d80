/**
 * A short-lived process for the restart test: opens the database, appends `n` events numbered
 * from `from` (one append each, so it commits often), closes and exits.
 *
 * Usage: deno run -A _churn.ts <path> <stream> <from> <n>
 *
 * @module
 */
import { createKvBackend } from "../../src/kv/mod.ts";
import { events } from "./_helpers.ts";

const [path, stream, from, n] = Deno.args;
const backend = createKvBackend({ path });
for (const e of events(stream, Number(n), Number(from))) await backend.append([e]);
await backend.close();
