/**
 * The admin API's journey route: one request followed across services, from the backend's
 * correlation index.
 *
 * @module
 */
import type { Hono } from "hono";
import type { Backend } from "../backend.ts";
import { journey, TRACE_LIMIT } from "../trace.ts";
import { AdminHttpError } from "./errors.ts";
import { limitOf } from "./params.ts";
import type { AdminEnv } from "./write_routes.ts";

/** Adds `GET /journeys/:id` to `app`. */
export function journeyRoutes(app: Hono<AdminEnv>, backend: Backend): void {
  app.get("/journeys/:id", async (c) => {
    const id = c.req.param("id");
    const trace = await backend.trace(id, {
      limit: Math.min(limitOf(c, TRACE_LIMIT), TRACE_LIMIT),
    });
    if (trace.events.length === 0) {
      throw new AdminHttpError(
        404,
        "not_found",
        `No events with correlation or event id "${id}" (or they were trimmed)`,
      );
    }
    return c.json(journey(trace));
  });
}
