/**
 * The admin API's AsyncAPI route: the document of the event contracts the admin was given.
 *
 * @module
 */
import type { Hono } from "hono";
import type { AsyncApiDocument } from "../asyncapi/document.ts";
import { AdminHttpError } from "./errors.ts";
import type { AdminEnv } from "./write_routes.ts";

/** Adds `GET /asyncapi.json` to `app`: `document`, or 404 when no contracts were given. */
export function asyncApiRoute(app: Hono<AdminEnv>, document: AsyncApiDocument | undefined): void {
  app.get("/asyncapi.json", (c) => {
    if (!document) {
      throw new AdminHttpError(
        404,
        "not_found",
        "No AsyncAPI document: give the event contracts to createAdmin({ contracts }) " +
          "(or createService({ admin: { token, contracts } }))",
      );
    }
    return c.json(document);
  });
}
