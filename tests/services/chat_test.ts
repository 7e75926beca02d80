/**
 * End to end, the services as `deno serve` processes: the chat socket opens with a single-use
 * ticket (never a token in the URL), refuses binary frames, closes on frames over the limit,
 * drops messages sent too fast, bounds sockets per user, and a flooding socket does not keep another
 * member's message from the room.
 */
import { assert, assertEquals } from "@std/assert";
import { api, Cluster, type Person, register, Socket, socketUrl } from "./_cluster.ts";
import { until } from "./_poll.ts";

async function room(c: Cluster, owner: Person, member: Person): Promise<string> {
  for (const p of [owner, member]) {
    await until(
      "Users made the user",
      async () =>
        (await api(c.url("users"), "GET", "/users/me", { token: p.token })).status === 200,
    );
  }
  const group = await api(c.url("users"), "POST", "/groups", {
    body: { name: "Room" },
    token: owner.token,
  });
  const id = group.body.id as string;
  const added = await api(c.url("users"), "POST", `/groups/${id}/members`, {
    body: { userId: member.id },
    token: owner.token,
  });
  assertEquals(added.status, 204);
  await until(
    "Chat knows both members",
    async () =>
      (await api(c.url("chat"), "GET", `/rooms/${id}/messages`, { token: member.token }))
        .status === 200,
  );
  return id;
}

async function joined(url: string): Promise<Socket> {
  const s = new Socket(url);
  await s.opened;
  await until("joined", () => s.frames.some((f) => f.type === "joined"));
  return s;
}

Deno.test("the chat socket opens with a single-use ticket, and no token in the URL", async () => {
  const c = await Cluster.start();
  const sockets: Socket[] = [];
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    const groupId = await room(c, ada, bob);
    const url = await socketUrl(c, "chat", groupId, ada.token);
    sockets.push(await joined(url));
    const path = url.slice(url.indexOf("/rooms/"));
    const again = await api(c.url("chat"), "GET", path);
    assertEquals(again.status, 401, "a used ticket opened a socket");
    const withToken = await api(c.url("chat"), "GET", `/rooms/${groupId}/ws?token=${ada.token}`);
    assertEquals(withToken.status, 401);
    const elsewhere = await socketUrl(c, "chat", groupId, bob.token);
    const other = await api(
      c.url("chat"),
      "GET",
      elsewhere.slice(elsewhere.indexOf("/rooms/")).replace(groupId, "another-room"),
    );
    assertEquals(other.status, 401, "a ticket for one room opened another");
  } catch (err) {
    console.error(c.logs.slice(-40).join("\n"));
    throw err;
  } finally {
    for (const s of sockets) await s.close();
    await c.close();
  }
});

Deno.test("the chat socket refuses binary and oversized frames, drops a flood with an error frame, and bounds sockets per user", async () => {
  const c = await Cluster.start();
  const sockets: Socket[] = [];
  try {
    const [ada, bob] = await Promise.all([register(c, "Ada"), register(c, "Bob")]);
    const groupId = await room(c, ada, bob);

    const binary = await joined(await socketUrl(c, "chat", groupId, ada.token));
    sockets.push(binary);
    binary.ws.send(new Uint8Array(1024));
    assertEquals((await binary.closed).code, 1003);

    const big = await joined(await socketUrl(c, "chat", groupId, ada.token));
    sockets.push(big);
    big.ws.send("x".repeat(10_000));
    assertEquals((await big.closed).code, 4413);

    // Bob listens; Ada floods from one socket and speaks from another.
    const listener = await joined(await socketUrl(c, "chat", groupId, bob.token));
    const flood = await joined(await socketUrl(c, "chat", groupId, ada.token));
    const calm = await joined(await socketUrl(c, "chat", groupId, ada.token));
    sockets.push(listener, flood, calm);
    let sent = 0;
    while (sent < 3_000 && flood.ws.readyState === WebSocket.OPEN) {
      for (let i = 0; i < 100; i++) flood.send({ text: `flood ${sent++}` });
      if (sent === 1_000) calm.send({ text: "still heard" });
      // A turn of the event loop between bursts lets the server's close frame in.
      await new Promise((r) => setTimeout(r, 1));
    }
    if (sent < 1_000) calm.send({ text: "still heard" });
    await until(
      "the flood is told to slow down",
      () => flood.frames.some((f) => f.type === "error" && /Too many/.test(f.error)),
    );
    await until(
      "Bob hears the calm socket",
      () => listener.frames.some((f) => f.type === "message" && f.message.text === "still heard"),
    );
    const flooded = listener.frames.filter((f) => f.message?.text.startsWith("flood")).length;
    assert(flooded <= 45, `${flooded} flood messages got through`);
    await flood.close();

    // Ada holds 1 open socket (calm; listener is Bob's): four more, then the sixth is refused.
    for (let i = 0; i < 4; i++) {
      sockets.push(await joined(await socketUrl(c, "chat", groupId, ada.token)));
    }
    const sixth = await socketUrl(c, "chat", groupId, ada.token);
    const refused = await api(c.url("chat"), "GET", sixth.slice(sixth.indexOf("/rooms/")));
    assertEquals(refused.status, 429);
  } catch (err) {
    console.error(c.logs.slice(-40).join("\n"));
    throw err;
  } finally {
    for (const s of sockets) await s.close();
    await c.close();
  }
});
