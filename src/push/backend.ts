/**
 * The bus's view of its backend when push is on: the same backend, except that appends that
 * commit (`append`, and `appendAtomic` for the outbox) wake the groups on their streams, and
 * `close` first lets wake-ups in flight finish.
 *
 * @module
 */
import { type Backend, isAtomicAppender } from "../backend.ts";
import { shareReachability } from "../telemetry/health.ts";
import type { Pusher } from "./sender.ts";

/** Wraps `backend` so that committed appends notify `pusher`. */
export function pushingBackend(backend: Backend, pusher: Pusher): Backend {
  const append: Backend["append"] = async (events, options) => {
    await backend.append(events, options);
    pusher.notify(events);
  };
  const appendAtomic = isAtomicAppender(backend)
    ? async (...args: Parameters<typeof backend.appendAtomic>) => {
      const result = await backend.appendAtomic(...args);
      if (result !== "foreign" && result.ok) pusher.notify(args[2]);
      return result;
    }
    : undefined;
  const close = async () => {
    await pusher.close();
    await backend.close();
  };
  const wrapped = new Proxy(backend, {
    get(target, prop) {
      if (prop === "append") return append;
      if (prop === "appendAtomic" && appendAtomic) return appendAtomic;
      if (prop === "close") return close;
      const value = Reflect.get(target, prop, target);
      // Backends keep private fields: their methods must run on the backend, not the proxy.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  // The backend reports its own outages (Redis does): the bus, its workers and the service's
  // readiness look them up through the wrapper.
  shareReachability(wrapped, backend);
  return wrapped;
}
