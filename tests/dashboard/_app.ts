/**
 * The dashboard served over real HTTP on a Deno KV file, with a "billing" group whose handler
 * fails for good on orders whose note starts with "bad" while `broken` is set (a bug not fixed
 * yet).
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, defineEvent, DoNotRetryError } from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";
import { createWorker } from "../../src/worker.ts";
import { tempDb } from "../kv/_helpers.ts";

export const TOKEN = "dashboard-token-0123456789";

export const Ordered = defineEvent({
  stream: "orders",
  type: "order.placed",
  schema: z.object({ n: z.number(), note: z.string() }),
});

/** Starts the bus, the admin API (with its dashboard) and an idle worker. */
export async function startApp() {
  const db = await tempDb();
  const bus = createBus({
    backend: createKvBackend({ path: db.path, journeys: true }),
    source: "shop",
  });
  const admin = createAdmin({ bus, token: TOKEN, log: { info() {} } });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, admin.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/dashboard`;
  const flags = { broken: true };
  const worker = createWorker({ bus, group: "billing" });
  worker.on(Ordered, (event) => {
    if (flags.broken && event.data.note.startsWith("bad")) {
      throw new DoNotRetryError("card declined");
    }
  });
  await bus.backend.subscribe("billing", ["orders"], "earliest");
  return {
    bus,
    url,
    worker,
    flags,
    async close() {
      await worker.stop();
      await server.shutdown();
      await bus.close();
      await db.cleanup();
    },
  };
}
