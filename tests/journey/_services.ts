/**
 * Three services on one bus, a chain of two events (the example app's sign-up is one event; this
 * shape gives a journey depth): Auth publishes `user.registered`; Users handles it and publishes
 * `user.created`; Posts handles that, and Chat fails on it for good (`chat is down`). One
 * registration's journey is then Auth → Users → Posts and Chat.
 *
 * @module
 */
import { z } from "zod";
import { type Bus, defineEvent, DoNotRetryError } from "@herald/herald";
import { createWorker, type EventWorker } from "../../src/worker.ts";

export const Registered = defineEvent({
  stream: "auth",
  type: "user.registered",
  schema: z.object({ email: z.string() }),
});
export const Created = defineEvent({
  stream: "users",
  type: "user.created",
  schema: z.object({ id: z.string(), email: z.string() }),
});

/** Starts the Users, Posts and Chat workers; `stop()` stops them. */
export async function startServices(bus: Bus) {
  const users = createWorker({ bus, group: "users" });
  users.on(Registered, async (event, ctx) => {
    await ctx.publish(Created, { id: `u-${event.data.email}`, email: event.data.email });
  });
  const posts = createWorker({ bus, group: "posts" });
  posts.on(Created, () => {});
  const chat = createWorker({ bus, group: "chat" });
  chat.on(Created, () => {
    throw new DoNotRetryError("chat is down");
  });
  const workers: EventWorker[] = [users, posts, chat];
  for (const w of workers) await w.start();
  return {
    async stop() {
      for (const w of workers) await w.stop();
    },
  };
}
