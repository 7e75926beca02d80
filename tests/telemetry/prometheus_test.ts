/**
 * `/metrics` of the example app's `deno serve` processes with `HERALD_METRICS=prometheus`, parsed
 * with a Prometheus text-format parser from npm: the numbers Users' worker measured in its Web
 * Worker reach the endpoint its main isolate serves, behind the configured token.
 */
import { assert, assertEquals } from "@std/assert";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { api, Cluster } from "../services/_cluster.ts";
import { until } from "../services/_poll.ts";

const TOKEN = "scrape-secret";

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; count?: string; labels?: Record<string, string> }[];
}

async function scrape(base: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return await fetch(`${base}/metrics`, { headers });
}

/**
 * Parses the text twice: as it is, and with the histograms' TYPE lines left out, so that their
 * `_count` series come out as families of their own. (parse-prometheus-text-format folds a
 * histogram's labelled series into one set of buckets and drops their labels and counts.)
 */
function parse(text: string): Family[] {
  const untyped = text.split("\n").filter((l) => !/^# TYPE \S+ histogram$/.test(l)).join("\n");
  return [...parsePrometheusTextFormat(text), ...parsePrometheusTextFormat(untyped)];
}

/** The value of one series of a parsed family (a histogram's count), if it is there. */
function value(families: Family[], name: string, labels: Record<string, string>) {
  const family = families.find((f) => f.name === name);
  const series = family?.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  const raw = series?.value ?? series?.count;
  return raw === undefined ? undefined : Number(raw);
}

Deno.test("createService() serves /metrics with what its Web Worker measured, behind a token", async () => {
  const c = await Cluster.start("kv", {
    env: { HERALD_METRICS: "prometheus", HERALD_METRICS_TOKEN: TOKEN },
  });
  try {
    const denied = await scrape(c.url("users"));
    assertEquals(denied.status, 401);
    await denied.body?.cancel();

    const email = `ada-${crypto.randomUUID().slice(0, 6)}@example.com`;
    const body = { email, password: "correct horse battery", name: "Ada" };
    assertEquals((await api(c.url("auth"), "POST", "/register", { body })).status, 201);

    const users = { stream: "auth", group: "users" };
    const families = await until("Users' metrics of the registration", async () => {
      const res = await scrape(c.url("users"), TOKEN);
      assertEquals(res.status, 200);
      assert(res.headers.get("content-type")?.startsWith("text/plain"));
      const parsed = parse(await res.text());
      const done = value(parsed, "herald_messages_handled_total", { ...users, outcome: "ack" });
      return done === 1 ? parsed : undefined;
    });
    const type = (name: string) => families.find((f) => f.name === name)?.type;
    assertEquals(type("messaging_client_consumed_messages_total"), "COUNTER");
    assertEquals(type("messaging_process_duration_seconds"), "HISTOGRAM");
    assertEquals(type("herald_consumer_lag"), "GAUGE");
    assertEquals(value(families, "messaging_client_consumed_messages_total", users), 1);
    assertEquals(value(families, "herald_delivery_latency_seconds_count", users), 1);
    assertEquals(
      value(families, "messaging_process_duration_seconds_count", { ...users, outcome: "ack" }),
      1,
    );
    assertEquals(value(families, "herald_consumer_lag", users), 0);
    assertEquals(value(families, "herald_consumer_pending", users), 0);
    assertEquals(value(families, "herald_dead_letters", users), 0);

    // Auth's main isolate published the registration itself.
    const auth = await (await scrape(c.url("auth"), TOKEN)).text();
    const authFamilies = parse(auth);
    assertEquals(
      value(authFamilies, "messaging_client_sent_messages_total", { stream: "auth" }),
      1,
    );
  } catch (err) {
    console.log(c.logs.join("\n"));
    throw err;
  } finally {
    await c.close();
  }
});
