/**
 * What the service knows of the platform it runs on: Deno Deploy, detected by the
 * `DENO_DEPLOYMENT_ID` variable it sets in every app.
 *
 * @module
 */

/** The shutdown grace on Deno Deploy: it sends SIGINT, then SIGKILL 5 seconds later. */
export const DEPLOY_GRACE_MS = 4_000;

/** Reads an environment variable; `undefined` when unset or not readable (no env permission). */
export function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Whether this process runs on Deno Deploy. */
export function onDeploy(): boolean {
  return env("DENO_DEPLOYMENT_ID") !== undefined;
}
