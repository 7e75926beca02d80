import { assertEquals } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { Flights } from "../../src/flight.ts";

const delivery = (ref: string): Delivery => ({ stream: "s", ref, attempt: 1 });

Deno.test("a flight aborted before its signal was asked for hands out an aborted signal", () => {
  const flight = new Flights().add(delivery("a"));
  flight.abort("lost");
  flight.abort("again"); // only the first reason counts
  assertEquals(flight.signal.aborted, true);
  assertEquals(flight.signal.reason, "lost");
});

Deno.test("a flight's signal asked for first is aborted later, once", () => {
  const flight = new Flights().add(delivery("a"));
  const signal = flight.signal;
  let events = 0;
  signal.addEventListener("abort", () => events++);
  assertEquals(signal.aborted, false);
  flight.abort("lost");
  flight.abort("again");
  assertEquals([signal.aborted, signal.reason, events, flight.signal === signal], [
    true,
    "lost",
    1,
    true,
  ]);
});

Deno.test("flights leave in any order and the rest stay", () => {
  const flights = new Flights();
  const [a, b, c, d] = ["a", "b", "c", "d"].map((r) => flights.add(delivery(r)));
  flights.delete(b);
  flights.delete(b); // a second delete changes nothing
  flights.delete(d);
  const e = flights.add(delivery("e"));
  flights.delete(a);
  assertEquals(flights.size, 2);
  assertEquals(flights.list().map((f) => f.delivery.ref).sort(), ["c", "e"]);
  assertEquals([a.index, b.index, d.index], [-1, -1, -1]);
  flights.delete(c);
  flights.delete(e);
  assertEquals(flights.size, 0);
});
