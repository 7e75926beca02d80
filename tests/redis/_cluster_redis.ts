/**
 * A private Redis Cluster for tests: six `redis-server --cluster-enabled yes` on free ports in a
 * temporary directory, joined by `redis-cli --cluster create` as three masters with a replica
 * each, and stopped by PID.
 *
 * @module
 */
import { freePort } from "./_private_redis.ts";

/** Why the cluster tests are skipped (no redis-server or redis-cli), or `undefined`. */
export const CLUSTER_SKIP: string | undefined = await probeBinaries();

async function probeBinaries(): Promise<string | undefined> {
  for (const bin of ["redis-server", "redis-cli"]) {
    try {
      await new Deno.Command(bin, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
    } catch {
      const reason = `${bin} is not installed`;
      if (Deno.env.get("CI") === "true") throw new Error(`${reason}; CI needs it`);
      console.warn(`Redis Cluster tests skipped: ${reason}`);
      return reason;
    }
  }
  return undefined;
}

/** One node of the cluster: its port and process. */
export interface ClusterNode {
  port: number;
  child?: Deno.ChildProcess;
}

/** A running cluster of three masters and (by default) three replicas. */
export class PrivateCluster {
  readonly nodes: ClusterNode[];
  readonly dir: string;

  private constructor(dir: string, ports: number[]) {
    this.dir = dir;
    this.nodes = ports.map((port) => ({ port }));
  }

  /**
   * Starts six nodes (three with `replicas: 0`), creates the cluster and waits until every node
   * says `cluster_state:ok`.
   */
  static async start(options: { replicas?: 0 | 1 } = {}): Promise<PrivateCluster> {
    const replicas = options.replicas ?? 1;
    const dir = await Deno.makeTempDir({ prefix: "herald-cluster-" });
    const ports = new Set<number>();
    while (ports.size < 3 * (1 + replicas)) ports.add(freePort());
    const cluster = new PrivateCluster(dir, [...ports]);
    try {
      for (const node of cluster.nodes) cluster.#spawn(node);
      await Promise.all(cluster.nodes.map((n) => waitForPort(n.port)));
      const create = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...cluster.nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          String(replicas),
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!create.success) {
        throw new Error(
          `redis-cli --cluster create failed: ${new TextDecoder().decode(create.stderr)}`,
        );
      }
      for (const node of cluster.nodes) await cluster.waitForState(node.port);
      if (replicas > 0) await cluster.waitForReplicas();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** The `redis://` URLs of every node. */
  get urls(): string[] {
    return this.nodes.map((n) => `redis://127.0.0.1:${n.port}`);
  }

  #spawn(node: ClusterNode): void {
    node.child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(node.port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${node.port}.conf`,
        "--cluster-node-timeout",
        "2000",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.dir,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  /** Runs `redis-cli` against one node and returns its output. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const out = await new Deno.Command("redis-cli", {
      args: ["-p", String(port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout);
  }

  /** Waits until the node at `port` says `cluster_state:ok`. */
  async waitForState(port: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.cli(port, "CLUSTER", "INFO")).includes("cluster_state:ok")) {
      if (Date.now() > deadline) throw new Error(`node ${port} did not reach cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Waits until every node sees three masters and three replicas, and every replica's link to
   * its master is up (synced): a replica that never synced is not promoted on a failover.
   */
  async waitForReplicas(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ready = async (port: number) => {
      const roles = (await this.cli(port, "CLUSTER", "NODES")).split("\n").map((l) => l.split(" "))
        .filter((f) => f.length > 2).map((f) => f[2]);
      if (roles.filter((r) => r.includes("slave")).length !== 3) return false;
      const info = await this.cli(port, "INFO", "replication");
      return info.includes("role:master")
        ? info.includes("connected_slaves:1")
        : info.includes("master_link_status:up");
    };
    for (const node of this.nodes) {
      while (!(await ready(node.port))) {
        if (Date.now() > deadline) throw new Error(`node ${node.port}: replicas did not sync`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** The ports of the nodes that are masters now, as the node at `port` sees them. */
  async masters(port: number): Promise<number[]> {
    const text = await this.cli(port, "CLUSTER", "NODES");
    return text.split("\n").map((l) => l.split(" ")).filter((f) =>
      f.length > 2 && f[2].includes("master") && !f[2].includes("fail")
    ).map((f) => Number(f[1].split("@")[0].split(":")[1]));
  }

  /** Kills one node with SIGKILL. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    node?.child?.kill("SIGKILL");
    await node?.child?.status;
    if (node) node.child = undefined;
  }

  /** Kills every node by PID and removes the directory, synchronously (for `unload`). */
  stopSync(): void {
    for (const node of this.nodes) {
      try {
        node.child?.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Already removed.
    }
  }

  /** Stops every node by PID and removes the directory. */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      try {
        node.child?.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await node.child?.status;
      node.child = undefined;
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The cluster a test file shares: started at load when the binaries are there, stopped by the
 * file's last test (or at unload, when a filter left that test out).
 */
export async function sharedCluster(): Promise<PrivateCluster | undefined> {
  if (CLUSTER_SKIP) return undefined;
  const cluster = await PrivateCluster.start();
  globalThis.addEventListener("unload", () => cluster.stopSync());
  return cluster;
}

/** The port of the master that serves `key`'s slot now, as the node at `port` sees it. */
export async function masterOf(
  cluster: PrivateCluster,
  port: number,
  key: string,
): Promise<number> {
  const slot = Number((await cluster.cli(port, "CLUSTER", "KEYSLOT", key)).trim());
  for (const line of (await cluster.cli(port, "CLUSTER", "NODES")).split("\n")) {
    const f = line.split(" ");
    if (f.length < 9 || !f[2].includes("master") || f[2].includes("fail")) continue;
    const serves = f.slice(8).some((range) => {
      const [from, to] = range.split("-").map(Number);
      return slot >= from && slot <= (to ?? from);
    });
    if (serves) return Number(f[1].split("@")[0].split(":")[1]);
  }
  throw new Error(`no master serves slot ${slot}`);
}
