/**
 * Conformance cases of the optional capabilities (`RateLimits`, `PushRegistry`). A backend
 * without one fails its cases: skip them by name, with the reason.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import type { Backend } from "../backend.ts";
import {
  hasPushRegistry,
  hasRateLimits,
  type PushRegistry,
  type RateLimits,
} from "../capabilities.ts";
import type { CaseFn } from "./conformance.ts";

function rates(backend: Backend): RateLimits {
  if (!hasRateLimits(backend)) throw new TypeError(`${backend.name} has no takeRate()`);
  return backend;
}

function registry(backend: Backend): PushRegistry {
  if (!hasPushRegistry(backend)) throw new TypeError(`${backend.name} has no push registry`);
  return backend;
}

/** Cases of the optional capabilities, by name. */
export const CAPABILITY_CASES: Readonly<Record<string, CaseFn>> = {
  "takeRate() gives at most max permits per window to concurrent callers": async (k) => {
    const name = k.name("rate"), perMs = 600_000;
    const before = Math.floor(Date.now() / perMs);
    const waits = await Promise.all(
      Array.from({ length: 20 }, () => rates(k.backend).takeRate(name, 5, perMs)),
    );
    const crossed = Math.floor(Date.now() / perMs) !== before;
    const taken = waits.filter((w) => w === 0).length;
    // Only a call that straddles a window boundary may see a second window's permits.
    if (crossed) ok(taken <= 10, `${taken} permits`);
    else equal(taken, 5);
    ok(waits.every((w) => w >= 0 && w <= perMs), `waits ${waits}`);
  },

  "takeRate() gives permits again in the next window, and names are apart": async (k) => {
    const name = k.name("rate"), other = k.name("other"), perMs = 300;
    // Start right after a boundary, so both calls below fall in one window.
    await new Promise((r) => setTimeout(r, perMs - (Date.now() % perMs) + 5));
    equal(await rates(k.backend).takeRate(name, 1, perMs), 0);
    const wait = await rates(k.backend).takeRate(name, 1, perMs);
    ok(wait > 0 && wait <= perMs, `wait ${wait}`);
    equal(await rates(k.backend).takeRate(other, 1, perMs), 0);
    await new Promise((r) => setTimeout(r, wait + 20));
    equal(await rates(k.backend).takeRate(name, 1, perMs), 0);
  },

  "setPushEndpoint() registers one endpoint per group, listed by stream": async (k) => {
    const s1 = k.name("s1"), s2 = k.name("s2"), g = k.name("g"), h = k.name("h");
    const reg = registry(k.backend);
    equal(await reg.pushEndpoints(s1), []);
    await reg.setPushEndpoint(g, [s1, s2], { url: "http://a.test/push", secret: "whsec_a" });
    await reg.setPushEndpoint(g, [s1], { url: "http://b.test/push", secret: "whsec_b" });
    await reg.setPushEndpoint(h, [s1], { url: "http://h.test/push", secret: "whsec_h" });
    const byGroup = (list: { group: string }[]) =>
      list.sort((a, b) => a.group.localeCompare(b.group));
    equal(byGroup(await reg.pushEndpoints(s1)), [
      { group: g, url: "http://b.test/push", secret: "whsec_b" },
      { group: h, url: "http://h.test/push", secret: "whsec_h" },
    ]);
    equal(await reg.pushEndpoints(s2), [{
      group: g,
      url: "http://a.test/push",
      secret: "whsec_a",
    }]);
    await reg.setPushEndpoint(g, [s1, s2], null);
    equal(await reg.pushEndpoints(s1), [{
      group: h,
      url: "http://h.test/push",
      secret: "whsec_h",
    }]);
    equal(await reg.pushEndpoints(s2), []);
  },
};
