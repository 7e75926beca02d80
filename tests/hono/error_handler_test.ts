/**
 * `heraldErrorHandler()`: a Hono route that publishes a payload its contract refuses answers
 * 400 with every issue, not 500.
 */
import { assertEquals } from "@std/assert";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { defineEvent } from "@herald/herald";
import { heraldErrorHandler } from "@herald/herald/hono";
import { createTestBus } from "@herald/herald/testing";

const OrderPlaced = defineEvent({
  stream: "orders",
  type: "order.placed",
  schema: z.object({ id: z.string().min(3), qty: z.number().int().positive() }),
});

Deno.test("`heraldErrorHandler()` answers a ValidationError with 400 and every issue", async () => {
  const bus = createTestBus();
  try {
    const app = new Hono();
    app.onError(heraldErrorHandler);
    app.post("/orders", async (c) => {
      await bus.publish(OrderPlaced, await c.req.json());
      return c.body(null, 201);
    });
    const res = await app.request("/orders", { method: "POST", body: '{"id":"x","qty":-1}' });
    assertEquals(res.status, 400);
    const body = await res.json();
    assertEquals(body.issues.map((i: { path: string[] }) => i.path.join(".")).sort(), [
      "id",
      "qty",
    ]);
    assertEquals(typeof body.error, "string");
    assertEquals(body.code, "VALIDATION_FAILED");
    assertEquals(bus.published().length, 0);
  } finally {
    await bus.close();
  }
});

Deno.test("`heraldErrorHandler()` leaves HTTPException its own answer and other errors a 500", async () => {
  const app = new Hono();
  app.onError(heraldErrorHandler);
  app.get("/teapot", () => {
    throw new HTTPException(418, { message: "short and stout" });
  });
  app.get("/boom", () => {
    throw new Error("boom");
  });
  const teapot = await app.request("/teapot");
  assertEquals([teapot.status, await teapot.text()], [418, "short and stout"]);
  const error = console.error;
  console.error = () => {};
  try {
    const boom = await app.request("/boom");
    assertEquals([boom.status, await boom.text()], [500, "Internal Server Error"]);
  } finally {
    console.error = error;
  }
});
