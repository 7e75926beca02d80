/**
 * The one place that picks the bus: the embedded Deno KV file every service shares by default,
 * or Redis when `HERALD_BACKEND=redis` (configured by `redisFromEnv`). Services never name a
 * backend themselves, so switching is one setting.
 *
 * @module
 */
import { type Backend, type Bus, createBus, kv } from "@herald/herald";
import { dirname } from "node:path";
import { backendKind, busPath } from "./config.ts";

/**
 * Opens the bus a service publishes and consumes through.
 *
 * @param source The service's name, stamped into the events it publishes.
 * @returns The bus; close it when the service stops.
 *
 * @example Opening the Posts bus
 * ```ts ignore
 * const bus = await openBus("posts");
 * await bus.publish(PostCreated, post);
 * ```
 */
export async function openBus(source: string): Promise<Bus> {
  return createBus({ backend: await openBackend(), source });
}

async function openBackend(): Promise<Backend> {
  if (backendKind() === "redis") {
    // Loaded only when asked for, so the embedded default never loads a Redis client.
    const { redisFromEnv } = await import("@herald/herald/redis");
    return redisFromEnv();
  }
  const path = busPath();
  await Deno.mkdir(dirname(path), { recursive: true });
  return kv({ path });
}
