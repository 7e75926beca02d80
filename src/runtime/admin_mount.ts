/**
 * Mounting the admin API in a service at `/herald`, when the service asks for it (`admin`) or
 * the environment does (`HERALD_ADMIN_TOKEN`, optionally `HERALD_ADMIN_READ_TOKEN`). The admin
 * module (and Hono with it) loads on the first request, so services without it never load it.
 *
 * @module
 */
import type { AdminOptions } from "../admin/app.ts";
import type { Bus } from "../bus.ts";
import type { Log } from "./log.ts";

/** Where the admin API answers in a service. */
export const ADMIN_PATH = "/herald";

/** The admin tokens of a service, and the contracts its AsyncAPI document describes. */
export interface AdminTokens {
  /** The token that may read and change everything. */
  token: string;
  /** A token that may only read. */
  readToken?: string;
  /** The event contracts served at `/herald/asyncapi.json` (see `createAdmin`). */
  contracts?: AdminOptions["contracts"];
  /** The AsyncAPI document's `info`. */
  info?: AdminOptions["info"];
}

/** The tokens to mount the admin API with, from the option or the environment; none: off. */
export function adminTokens(option: AdminTokens | false | undefined): AdminTokens | undefined {
  if (option === false) return undefined;
  if (option) return option;
  let token: string | undefined, readToken: string | undefined;
  try {
    token = Deno.env.get("HERALD_ADMIN_TOKEN") || undefined;
    readToken = Deno.env.get("HERALD_ADMIN_READ_TOKEN") || undefined;
  } catch {
    return undefined; // no env permission: not configured
  }
  return token ? { token, ...(readToken ? { readToken } : {}) } : undefined;
}

/** The fewest characters an admin token must have. */
export const MIN_TOKEN = 16;

/** What is wrong with admin tokens, one sentence each. */
export function tokenProblems(token: unknown, readToken: unknown): string[] {
  const problems: string[] = [];
  if (typeof token !== "string" || token.length < MIN_TOKEN) {
    problems.push(`the admin token must be a string of at least ${MIN_TOKEN} characters`);
  }
  if (readToken !== undefined) {
    if (typeof readToken !== "string" || readToken.length < MIN_TOKEN) {
      problems.push(`the admin readToken must be a string of at least ${MIN_TOKEN} characters`);
    } else if (readToken === token) problems.push("the admin readToken must differ from token");
  }
  return problems;
}

/** Whether a path belongs to the admin API. */
export function isAdminPath(pathname: string): boolean {
  return pathname === ADMIN_PATH || pathname.startsWith(`${ADMIN_PATH}/`);
}

/** Makes the handler of admin requests, loading the admin module on first use. */
export function adminHandler(
  tokens: AdminTokens,
  bus: Bus,
  log: Log,
): (request: Request) => Promise<Response> {
  let app: Promise<{ fetch(request: Request): Response | Promise<Response> }> | undefined;
  const load = async () => {
    const { Hono } = await import("hono");
    const { createAdmin } = await import("../admin/app.ts");
    return new Hono().mount(ADMIN_PATH, createAdmin({ bus, ...tokens, log }).fetch);
  };
  return async (request) => await (await (app ??= load())).fetch(request);
}
