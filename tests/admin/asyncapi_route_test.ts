/**
 * The admin API serves the AsyncAPI document of the contracts it was given at `/asyncapi.json`,
 * over real HTTP, behind the bearer tokens (the read token is enough); `createService()` passes
 * `admin.contracts` through.
 */
import { assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { Hono } from "hono";
import { Parser } from "@asyncapi/parser";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createService,
  defineEvent,
  InvalidOptionsError,
} from "@herald/herald";
import { createAdmin } from "@herald/herald/admin";

const TOKEN = "asyncapi-admin-token-0123456789";
const READ = "asyncapi-read-token-0123456789";

const UserCreated = defineEvent({
  stream: "users",
  type: "user.created",
  schema: z.object({ id: z.string(), email: z.email() }),
});
const OrderPlaced = defineEvent({
  stream: "orders",
  type: "order.placed",
  schema: z.object({ total: z.number() }),
});

Deno.test("GET /asyncapi.json serves the contracts' AsyncAPI document over HTTP, behind the tokens", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "shop" });
  const admin = createAdmin({
    bus,
    token: TOKEN,
    readToken: READ,
    contracts: { UserCreated, OrderPlaced },
    info: { title: "Shop", version: "2.1.0" },
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, admin.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/asyncapi.json`;
  const get = async (token?: string) => {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: await res.json() };
  };
  try {
    assertEquals((await get()).status, 401);
    assertEquals((await get("not-the-token-at-all")).status, 401);
    const { status, body } = await get(READ);
    assertEquals(status, 200);
    assertEquals([body.asyncapi, body.info.title, body.info.version], ["3.0.0", "Shop", "2.1.0"]);
    assertEquals(Object.keys(body.channels).sort(), ["orders", "users"]);
    assertEquals((await get(TOKEN)).body, body);
    const { diagnostics } = await new Parser().parse(JSON.stringify(body));
    assertEquals(diagnostics.filter((d) => d.severity === 0), []);
  } finally {
    await server.shutdown();
    await bus.close();
  }
});

Deno.test("GET /asyncapi.json answers 404 without contracts; a bad contract is refused at construction", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "shop" });
  try {
    const admin = createAdmin({ bus, token: TOKEN });
    const res = await admin.fetch(
      new Request("http://admin/asyncapi.json", { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    const body = await res.json();
    assertEquals([res.status, body.code], [404, "not_found"]);
    const err = assertThrows(() => createAdmin({ bus, token: TOKEN, contracts: [] }));
    assertInstanceOf(err, InvalidOptionsError);
    const refused = assertThrows(() =>
      createService({ name: "svc", bus, admin: { token: TOKEN, contracts: [] }, signals: false })
    );
    assertInstanceOf(refused, InvalidOptionsError);
  } finally {
    await bus.close();
  }
});

Deno.test("createService({ admin: { token, contracts } }) serves /herald/asyncapi.json", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "svc" });
  const s = createService({
    name: "svc",
    app: new Hono(),
    bus,
    admin: { token: TOKEN, contracts: [UserCreated] },
    signals: false,
  });
  try {
    const path = "http://localhost/herald/asyncapi.json";
    assertEquals((await s.fetch(new Request(path))).status, 401);
    const res = await s.fetch(new Request(path, { headers: { authorization: `Bearer ${TOKEN}` } }));
    const body = await res.json();
    assertEquals([res.status, body.info.title, Object.keys(body.channels)], [200, "svc", [
      "users",
    ]]);
  } finally {
    await s.shutdown();
  }
});
