/**
 * Chat's one `deno serve` entry: `deno serve -A services/chat/main.ts`. Run several (each with
 * its own port) and they share every room through the bus.
 *
 * @module
 */
import { openBus } from "../shared/bus.ts";
import { instanceId } from "../shared/config.ts";
import { openDb } from "../shared/db.ts";
import { service } from "../shared/_interim.ts";
import { createChat } from "./core.ts";
import { createLive } from "./live.ts";
import { Rooms } from "./rooms.ts";
import { chatRoutes } from "./routes.ts";

const db = await openDb("chat");
const bus = await openBus("chat");
const rooms = new Rooms();
const live = createLive(bus, rooms, instanceId());

export default service({
  name: "chat",
  app: chatRoutes({ chat: createChat(db, bus), db, rooms, live }),
  worker: new URL("./worker.ts", import.meta.url),
  bus,
  cron: { "outbox-sweep": { schedule: "* * * * *", run: () => bus.flushOutbox(db) } },
  onStop: () => live.stop(),
});
