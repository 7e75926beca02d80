/**
 * The dashboard's routes: one HTML page, its script and its style, served from the package with
 * no build step. The page itself holds no data: it asks for a token, keeps it in
 * `sessionStorage`, and calls the admin API's JSON and Server-Sent Events routes with
 * `Authorization: Bearer`, so these routes need no token.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { SCRIPT } from "./script.ts";
import { STYLE } from "./style.ts";
import { PAGE } from "./page.ts";

/** Where the dashboard answers, relative to where the admin API is mounted. */
export const DASHBOARD_PATH = "/dashboard";

/**
 * What the page may load: only its own script and style, and only the admin API to talk to.
 * No inline script runs, so even a rendering bug cannot run a payload's markup.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function asset(c: Context, body: string, type: string): Response {
  c.header("Content-Type", type);
  c.header("Content-Security-Policy", CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-cache");
  return c.body(body);
}

/** Adds the dashboard's page and assets to `app`; call it before the token check. */
export function dashboardRoutes<E extends object>(app: Hono<E>): void {
  app.get(DASHBOARD_PATH, (c) => asset(c, PAGE, "text/html; charset=utf-8"));
  app.get(`${DASHBOARD_PATH}/`, (c) => c.redirect(`../dashboard`, 301));
  app.get(`${DASHBOARD_PATH}.js`, (c) => asset(c, SCRIPT, "text/javascript; charset=utf-8"));
  app.get(`${DASHBOARD_PATH}.css`, (c) => asset(c, STYLE, "text/css; charset=utf-8"));
}
