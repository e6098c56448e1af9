/**
 * One 3-node TestCluster for a file of classic-queue tests, with the clients they use: a
 * connection to node i (closed after the file), a durable queue homed on node i once every
 * node knows it, confirmed publishes, what each node's management API says of a queue.
 * A test that stops a node and fails half-way leaves it stopped, and a node may crash:
 * `restartStopped` (in an afterEach) brings either back for the next test.
 */
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { type Connection, connect, uniqueName, withTimeout } from "./amqplib-helpers.js";
import { channel, passiveCount } from "./cluster-amqp.js";
import { TestCluster } from "./cluster-process.js";
import { eventually } from "./eventually.js";
import { api } from "./mgmt-broker.js";

export class ClusterQueueFixture {
  private readonly open: Connection[] = [];

  private constructor(readonly cluster: TestCluster) {}

  static async start(): Promise<ClusterQueueFixture> {
    const cluster = await TestCluster.create(3);
    await cluster.startAll();
    await cluster.allServing();
    return new ClusterQueueFixture(cluster);
  }

  async stop(): Promise<void> {
    await Promise.all(this.open.map((conn) => conn.close().catch(() => {})));
    await this.cluster.stopAll();
  }

  async restartStopped(): Promise<void> {
    const c = this.cluster;
    for (let i = 0; i < c.nodes.length; i++) {
      const proc = c.nodes[i]!.broker?.process;
      const running = proc !== undefined && proc.exitCode === null && proc.signalCode === null;
      if (running) continue;
      // Stopped by the test, or exited on its own (a crash the test reported).
      await c.kill(i);
      await c.start(i);
      await c.serving(i, 60_000);
    }
  }

  nodeName(i: number): string {
    return this.cluster.nodes[i]!.spec.name;
  }

  mgmtUrl(i: number): string {
    return this.cluster.nodes[i]!.mgmtUrl;
  }

  /** A connection to node i, closed after the file if the test does not close it. */
  async on(i: number): Promise<Connection> {
    const conn = await connect(this.cluster.url(i));
    conn.on("error", () => {});
    this.open.push(conn);
    return conn;
  }

  /** Declares a durable queue through node i (its home) and waits until every node knows it. */
  async durableQueueOn(i: number, prefix: string): Promise<string> {
    const queue = uniqueName(prefix);
    const conn = await this.on(i);
    const ch = await channel(conn);
    await ch.assertQueue(queue, { durable: true });
    await conn.close();
    // The metadata is committed before declare-ok; the others apply it with the leader's
    // next message: a publish routed on a node that has not applied it yet finds no queue.
    for (let n = 0; n < this.cluster.nodes.length; n++) {
      const other = await this.on(n);
      await eventually(
        `${queue} on node ${n}`,
        async () => (await passiveCount(other, queue)) !== undefined,
        20_000,
      );
      await other.close();
    }
    return queue;
  }

  /** Publishes persistent messages through node i with confirms; fails on a nack or a return. */
  async publishConfirmed(i: number, queue: string, bodies: readonly string[]): Promise<void> {
    const conn = await this.on(i);
    const ch = await conn.createConfirmChannel();
    const returned: string[] = [];
    ch.on("return", (m: amqp.Message) => returned.push(m.content.toString()));
    for (const body of bodies) {
      ch.sendToQueue(queue, Buffer.from(body), { persistent: true, mandatory: true });
    }
    await withTimeout(ch.waitForConfirms(), 30_000, `confirms of ${bodies.length} publishes`);
    assert.deepEqual(returned, [], "no publish was returned unroutable");
    await conn.close();
  }

  /** What /api/queues/%2F/{queue} on node i says (status, node). */
  async apiQueue(i: number, queue: string): Promise<{ status: number; node?: string }> {
    const path = `/api/queues/%2F/${encodeURIComponent(queue)}`;
    const r = await api(this.mgmtUrl(i), "GET", path);
    return { status: r.status, node: (r.body as { node?: string } | undefined)?.node };
  }
}
