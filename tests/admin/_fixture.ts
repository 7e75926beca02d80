/**
 * An admin API served over real HTTP on a Deno KV file, with a worker that dead-letters every
 * event of type `order.failed` and handles `order.placed`.
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, defineEvent, DoNotRetryError } from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";
import { createWorker } from "../../src/worker.ts";
import { tempDb } from "../kv/_helpers.ts";

export const TOKEN = "write-token-0123456789abcdef";
export const READ = "read-token-0123456789abcdef";

export const Placed = defineEvent({
  stream: "orders",
  type: "order.placed",
  schema: z.object({ n: z.number() }),
});
export const Failed = defineEvent({
  stream: "orders",
  type: "order.failed",
  schema: z.object({ n: z.number() }),
});

/** Starts everything; `close()` stops it and removes the file. */
export async function startAdmin() {
  const db = await tempDb();
  const bus = createBus({ backend: createKvBackend({ path: db.path }), source: "tests" });
  const lines: string[] = [];
  const admin = createAdmin({
    bus,
    token: TOKEN,
    readToken: READ,
    log: { info: (l) => lines.push(l) },
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, admin.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const worker = createWorker({ bus, group: "billing" });
  let handled = 0;
  worker.on(Placed, () => {
    handled++;
  });
  worker.on(Failed, () => {
    throw new DoNotRetryError("card declined");
  });
  const call = async (
    path: string,
    init: RequestInit & { token?: string | null } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> => {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.set("authorization", `Bearer ${token}`);
    const res = await fetch(`${base}${path}`, { ...init, headers });
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
  return {
    bus,
    base,
    worker,
    lines,
    call,
    handled: () => handled,
    async close() {
      await worker.stop();
      await server.shutdown();
      await bus.close();
      await db.cleanup();
    },
  };
}
