/**
 * The kill -9 campaign for quorum queues on a 3-node cluster (issue 17): publishers with
 * confirms and consumers with manual acks spread over the nodes, each moving to another
 * node when its own dies; every round kills -9 a node chosen by the seed (half the time the
 * leader of one of the queues, as the management API's `leader` names it), at a random
 * moment, waits a random short time, restarts it and waits until it serves and every queue
 * has all its members online again. After the last round the publishers finish, the
 * consumers drain everything, and the ledger gives the figures: published, confirmed,
 * nacked, lost (confirmed and never delivered: must be 0), duplicated, duplicated without
 * the redelivered flag, and the time from a kill to the next confirm of every queue.
 * Bounded at every step; the cluster is killed and its data removed at the end (the nodes'
 * logs are written out first when something went wrong).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import type { BrokerUnderTest } from "../support/broker-process.js";
import { TestCluster } from "../support/cluster-process.js";
import { api } from "../support/mgmt-broker.js";
import { RoamingConsumer, RoamingPublisher } from "./quorum-clients.js";
import { type Figures, QuorumLedger } from "./quorum-ledger.js";

export interface QuorumCampaignOptions {
  readonly rounds: number;
  readonly seed: number;
  readonly queues?: number;
  readonly publishers?: number;
  readonly consumers?: number;
  /** Unconfirmed publishes each publisher keeps in flight. */
  readonly window?: number;
  readonly prefetch?: number;
  /** The clients run 200 ms plus up to this long before each kill. */
  readonly maxRunMs?: number;
  /** A killed node stays down 100 ms plus up to this long. */
  readonly maxDownMs?: number;
  /** How long the consumers may take to receive every confirmed message at the end. */
  readonly drainTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface RoundRecord {
  readonly round: number;
  readonly node: string;
  readonly leaderOf: string[];
  readonly runMs: number;
  readonly downMs: number;
  /** From the restart to the node serving, then to every queue with all members online. */
  readonly servingMs: number;
  readonly healthyMs: number | undefined;
  /** Kill to the first confirm of every queue after it (known at the end of the campaign). */
  readonly recoveryMs?: number | undefined;
}

export interface QuorumCampaignResult extends Figures {
  readonly rounds: number;
  readonly seed: number;
  readonly queues: number;
  readonly leaderKills: number;
  readonly elapsedMs: number;
  readonly publisherReconnects: number;
  readonly consumerReconnects: number;
  readonly consumerCancels: number;
  /** Messages the queues still held after the drain (passive declare). */
  readonly leftInQueues: number;
  readonly roundRecords: RoundRecord[];
  /** Where the nodes' logs were written, when something went wrong. */
  readonly logsDir: string | undefined;
  /** What stopped the campaign early (a node that did not come back, a drain that hung). */
  readonly failure: string | undefined;
}

const NODES = 3;
const QQ_ARGS = { "x-queue-type": "quorum", "x-queue-leader-locator": "balanced" };

/** mulberry32, as in crash-campaign.ts: a campaign's choices replay from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface QueueView {
  readonly leader: string | null;
  readonly online: string[];
  readonly members: string[];
}

export async function runQuorumCampaign(
  options: QuorumCampaignOptions,
): Promise<QuorumCampaignResult> {
  const started = Date.now();
  const random = prng(options.seed);
  const log = options.log ?? (() => {});
  const queueCount = options.queues ?? 2;
  const queues = Array.from({ length: queueCount }, (_, q) => `qq-crash-${q}`);
  const ledger = new QuorumLedger(queueCount);
  const cluster = await TestCluster.create(NODES, {
    fixedAmqpPorts: true,
    // Debug lines of three nodes over a campaign would fill this process's memory.
    args: ["--log-level", "info"],
  });
  /** Every process the campaign ran, killed ones included, for their logs. */
  const incarnations: { node: number; broker: BrokerUnderTest }[] = [];
  const names = cluster.nodes.map((n) => n.spec.name);
  const url = (i: number) => `amqp://guest:guest@127.0.0.1:${cluster.nodes[i]!.spec.amqpPort}`;
  const running = () => [0, 1, 2].filter((i) => cluster.nodes[i]!.broker !== undefined);

  /** What a running node's management API says of queue q (undefined: none answered). */
  const view = async (q: number): Promise<QueueView | undefined> => {
    for (const i of running()) {
      try {
        const path = `/api/queues/%2F/${encodeURIComponent(queues[q]!)}`;
        const r = await bounded(api(cluster.nodes[i]!.mgmtUrl, "GET", path), 3_000, path);
        if (r.status === 200) return r.body as QueueView;
      } catch {
        // The next node.
      }
    }
    return undefined;
  };
  const healthy = async () => {
    for (let q = 0; q < queueCount; q++) {
      const v = await view(q);
      if (!v || v.leader === null || v.online.length < NODES) return false;
    }
    return true;
  };
  const waitHealthy = async (timeoutMs: number): Promise<number | undefined> => {
    const from = Date.now();
    while (Date.now() - from < timeoutMs) {
      if (await healthy()) return Date.now() - from;
      await sleep(100);
    }
    return undefined;
  };

  const publishers: RoamingPublisher[] = [];
  const consumers: RoamingConsumer[] = [];
  const target = { url, nodeCount: NODES };
  const roundRecords: RoundRecord[] = [];
  let failure: string | undefined;
  let leftInQueues = 0;
  let logsDir: string | undefined;
  const diagnostics: unknown[] = [];
  const startNode = async (i: number) => {
    incarnations.push({ node: i, broker: await cluster.start(i) });
  };
  try {
    await Promise.all([0, 1, 2].map(startNode));
    await cluster.allServing(60_000);
    const setup = await amqp.connect(url(0));
    const sch = await setup.createChannel();
    for (const queue of queues) {
      await sch.assertQueue(queue, { durable: true, arguments: QQ_ARGS });
    }
    await setup.close();
    if ((await waitHealthy(30_000)) === undefined) {
      throw new Error("the queues never had a leader and all members online");
    }
    for (let p = 0; p < (options.publishers ?? 3); p++) {
      const q = p % queueCount;
      publishers.push(
        new RoamingPublisher(target, p % NODES, queues[q]!, q, ledger, options.window ?? 32),
      );
    }
    for (let c = 0; c < (options.consumers ?? 3); c++) {
      const q = c % queueCount;
      consumers.push(
        new RoamingConsumer(
          target,
          (c + 1) % NODES,
          queues[q]!,
          q,
          ledger,
          options.prefetch ?? 50,
          `c${c}`,
        ),
      );
    }
    for (const client of [...consumers, ...publishers]) client.start();

    for (let round = 1; round <= options.rounds; round++) {
      const runMs = 200 + Math.floor(random() * (options.maxRunMs ?? 1_500));
      const aimAtLeader = random() < 0.5;
      const pick = random();
      const downMs = 100 + Math.floor(random() * (options.maxDownMs ?? 2_000));
      await sleep(runMs);
      const leaders: (string | null)[] = [];
      for (let q = 0; q < queueCount; q++) leaders.push((await view(q))?.leader ?? null);
      let victim = Math.floor(pick * NODES);
      if (aimAtLeader) {
        const leader = leaders[Math.floor(pick * queueCount)];
        if (leader) victim = names.indexOf(leader);
      }
      const leaderOf = queues.filter((_, q) => leaders[q] === names[victim]);
      ledger.kill(round, names[victim]!, leaderOf.length > 0, Date.now());
      await cluster.kill(victim);
      await sleep(downMs);
      const restartAt = Date.now();
      await startNode(victim);
      try {
        await cluster.serving(victim, 60_000);
      } catch {
        failure = `round ${round}: ${names[victim]} did not serve within 60 s of its restart`;
        break;
      }
      const servingMs = Date.now() - restartAt;
      const healthyMs = await waitHealthy(30_000);
      const mark = ledger.kills.at(-1)!;
      const recovery = QuorumLedger.recoveryOf(mark);
      roundRecords.push({
        round,
        node: names[victim]!,
        leaderOf,
        runMs,
        downMs,
        servingMs,
        healthyMs,
      });
      log(
        `round ${round}/${options.rounds}: killed ${names[victim]}` +
          `${leaderOf.length ? ` (leader of ${leaderOf.join(", ")})` : ""} after ${runMs} ms, ` +
          `down ${downMs} ms, serving after ${servingMs} ms, ` +
          `${healthyMs === undefined ? "NOT all members online after 30 s" : `all online after ${healthyMs} ms`}; ` +
          `every queue confirmed again ${recovery === undefined ? "not yet" : `${recovery} ms after the kill`}; ` +
          `published ${ledger.published}, undelivered confirmed ${ledger.undelivered().length}`,
      );
    }

    // The end: a last stretch for the last kill's recovery, then the publishers finish.
    await sleep(1_000);
    await Promise.all(publishers.map((p) => p.stop()));
    // Consumers take everything confirmed, then nothing more arrives for a while.
    const drainFrom = Date.now();
    const drainMs = options.drainTimeoutMs ?? 90_000;
    while (Date.now() - drainFrom < drainMs) {
      if (ledger.undelivered().length === 0 && Date.now() - ledger.lastDeliveryAtMs > 2_000) break;
      await sleep(200);
    }
    if (ledger.undelivered().length > 0) {
      const undelivered = ledger.undelivered();
      failure ??= `drain: ${undelivered.length} confirmed messages undelivered after ${drainMs} ms`;
      // What every node says of the queues meanwhile, for the report.
      for (const i of running()) {
        for (const queue of queues) {
          const path = `/api/queues/%2F/${encodeURIComponent(queue)}`;
          const r = await bounded(api(cluster.nodes[i]!.mgmtUrl, "GET", path), 3_000, path).catch(
            (e: Error) => ({ status: 0, body: e.message }),
          );
          diagnostics.push({ node: names[i], queue, view: r.body });
        }
      }
      diagnostics.push({
        undeliveredByQueue: queues.map((_, q) =>
          undelivered.filter((id) => ledger.queueOf(id) === q),
        ),
      });
    }
    await Promise.all(consumers.map((c) => c.stop()));
    // What the queues still hold (acks the closing swallowed come back): taken and counted.
    leftInQueues = await sweep(url(running()[0] ?? 0), queues, ledger);
  } catch (e) {
    failure ??= (e as Error).message;
  } finally {
    await Promise.all([...publishers, ...consumers].map((c) => c.stop().catch(() => {})));
    const figures = ledger.figures();
    if (failure || figures.lost.length > 0 || figures.duplicatedWithoutRedelivered.length > 0) {
      logsDir = writeLogs(options.seed, incarnations, names);
      writeFileSync(join(logsDir, "diagnostics.json"), JSON.stringify(diagnostics, null, 1));
    }
    await cluster.stopAll();
  }
  const figures = ledger.figures();
  return {
    ...figures,
    rounds: options.rounds,
    seed: options.seed,
    queues: queueCount,
    leaderKills: ledger.kills.filter((k) => k.leader).length,
    elapsedMs: Date.now() - started,
    publisherReconnects: publishers.reduce((n, p) => n + p.reconnects, 0),
    consumerReconnects: consumers.reduce((n, c) => n + c.reconnects, 0),
    consumerCancels: consumers.reduce((n, c) => n + c.cancels, 0),
    leftInQueues,
    roundRecords: roundRecords.map((r, i) => ({
      ...r,
      recoveryMs: QuorumLedger.recoveryOf(ledger.kills[i]!),
    })),
    logsDir,
    failure,
  };
}

/**
 * After the consumers left: consumes each queue until nothing arrives for 2 s, recording
 * what comes (those are deliveries too: messages whose ack a closing channel swallowed);
 * returns what the queues still count after that.
 */
async function sweep(url: string, queues: string[], ledger: QuorumLedger): Promise<number> {
  const conn = await amqp.connect(url);
  conn.on("error", () => {});
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(500);
    for (const queue of queues) {
      let last = Date.now();
      const { consumerTag } = await ch.consume(queue, (m) => {
        if (!m) return;
        last = Date.now();
        ledger.deliver(m.content.toString(), m.fields.redelivered, last, "sweep");
        ch.ack(m);
      });
      while (Date.now() - last < 2_000) await sleep(200);
      await ch.cancel(consumerTag);
    }
    let left = 0;
    for (const queue of queues) left += (await ch.checkQueue(queue)).messageCount;
    return left;
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Every node process's log lines and stderr, one file each, in a folder that outlives the run. */
function writeLogs(
  seed: number,
  incarnations: { node: number; broker: BrokerUnderTest }[],
  names: string[],
): string {
  const dir = join(tmpdir(), `warren-qq-crash-logs-${seed}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const runs = new Map<number, number>();
  for (const { node, broker } of incarnations) {
    const k = (runs.get(node) ?? 0) + 1;
    runs.set(node, k);
    const lines = broker.logs.map((l) => JSON.stringify(l)).join("\n");
    writeFileSync(join(dir, `${names[node]}-run${k}.log`), `${lines}\n${broker.stderr()}`);
  }
  return dir;
}
