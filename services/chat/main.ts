/**
 * Chat's one `deno serve` entry: `deno serve -A services/chat/main.ts`. Run several (each with
 * its own port) and they share every room through the bus.
 *
 * @module
 */
import { openBus, OutboxSweep } from "../shared/bus.ts";
import { checkConfig, instanceId } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { createService } from "@herald/herald";
import { createChat } from "./core.ts";
import { createLive } from "./live.ts";
import { Rooms } from "./rooms.ts";
import { chatRoutes } from "./routes.ts";

await checkConfig("chat");
const db = await openDb("chat");
const bus = await openBus("chat");
const rooms = new Rooms();
const live = createLive(bus, rooms, instanceId());

const chat = createService({
  name: "chat",
  app: chatRoutes({ chat: createChat(db, bus), bus, db, rooms, live }),
  worker: new URL("./worker.ts", import.meta.url),
  bus,
  workerCron: [OutboxSweep],
  // The live fan-out runs beside the sockets, outside createService(): stop it before the bus closes.
  signals: false,
});

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    if (stopping) return;
    stopping = true;
    await live.stop();
    await chat.shutdown();
    Deno.exit(0);
  });
}

export default chat;
