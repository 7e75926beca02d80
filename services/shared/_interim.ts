// TEMPORARY stand-in for service() and kv() until they are exported from mod.ts. Removed then.
import type { Bus, Worker } from "@herald/herald";
import type { Hono } from "hono";
// deno-lint-ignore no-explicit-any
type AnyHono = Hono<any, any, any>;
export { kv } from "../../src/kv/mod.ts";

export function service(o: {
  name: string;
  app: AnyHono;
  worker?: URL;
  bus?: Bus;
  cron?: Record<string, { schedule: string; run: () => unknown }>;
  onStop?: () => Promise<void>;
}) {
  let worker: Worker | undefined;
  const ready = (async () => {
    if (o.worker) {
      worker = (await import(o.worker.href)).default as Worker;
      await worker.start();
    }
  })();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const t0 = performance.now();
    console.log("interim: stopping");
    await o.onStop?.();
    console.log("interim: onStop done", performance.now() - t0);
    await worker?.stop({ graceMs: 2000 });
    console.log("interim: worker stopped", performance.now() - t0);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  return {
    async fetch(req: Request) {
      const path = new URL(req.url).pathname;
      if (path === "/healthz") return new Response("ok");
      if (path === "/readyz") {
        await ready;
        return new Response("ready");
      }
      return o.app.fetch(req);
    },
  };
}
