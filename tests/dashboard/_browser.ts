/**
 * Headless Chromium for the dashboard tests, driven by playwright-core over the system's
 * Chromium (the Debian package `chromium`; `HERALD_CHROMIUM` names another binary). Without one,
 * tests are skipped with the reason, except under `CI=true`, where a missing browser fails.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium binary to use, or why there is none. */
export function findChromium(): { path: string } | { missing: string } {
  const named = Deno.env.get("HERALD_CHROMIUM");
  for (const path of named ? [named] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return { path };
    } catch { /* not there */ }
  }
  return {
    missing: named
      ? `HERALD_CHROMIUM=${named} does not exist`
      : `no Chromium at ${
        CANDIDATES.join(", ")
      } (apt-get install chromium, or set HERALD_CHROMIUM)`,
  };
}

/** Whether browser tests run here; prints why not. Under CI=true, a missing browser throws. */
export function browserOrSkip(): string | undefined {
  const found = findChromium();
  if ("path" in found) return found.path;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`Browser tests need Chromium under CI=true: ${found.missing}`);
  }
  console.warn(`dashboard browser tests skipped: ${found.missing}`);
  return undefined;
}

/** A browser with a fresh profile; `close()` ends the browser and removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Launches Chromium headless with a fresh profile and one page of `width`×`height`. */
export async function launch(path: string, width = 1280, height = 800): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "herald-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: path,
    headless: true,
    viewport: { width, height },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context,
    page,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Where screenshots of failed tests go (gitignored). */
export const SHOTS = new URL("../.screenshots/", import.meta.url);

/**
 * Runs `body` with the page; when it throws, saves a screenshot and prints its path first.
 */
export async function withShot(page: Page, name: string, body: () => Promise<void>) {
  try {
    await body();
  } catch (err) {
    await Deno.mkdir(SHOTS, { recursive: true });
    const file = new URL(`${name}-${Date.now()}.png`, SHOTS).pathname;
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.error(`screenshot of the failed test: ${file}`);
    throw err;
  }
}
