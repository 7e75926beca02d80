import { assertEquals } from "@std/assert";
import { tcpClient } from "../../src/redis/tcp.ts";
import { REDIS_URL, SKIP, testPrefix } from "./_redis.ts";

const ignore = Boolean(SKIP);

Deno.test({
  name: "tcpClient: commands issued in one task reach Redis in call order",
  ignore,
  async fn() {
    const client = tcpClient(REDIS_URL);
    const key = `${testPrefix()}order`;
    try {
      await client.command(["PING"]); // connected: what follows is written without waiting
      // The first leaves at once, the two after it share the next write: order must hold.
      const replies = await Promise.all([
        client.command(["SET", key, "a"]),
        client.command(["APPEND", key, "b"]),
        client.command(["APPEND", key, "c"]),
      ]);
      assertEquals(replies, ["OK", 2, 3]);
      // A command of a later task, then one more in the same task as a read of the result.
      await client.command(["APPEND", key, "d"]);
      const [, value] = await Promise.all([
        client.command(["APPEND", key, "e"]),
        client.command(["GET", key]),
      ]);
      assertEquals(value, "abcde");
    } finally {
      await client.command(["DEL", key]);
      await client.close();
    }
  },
});
