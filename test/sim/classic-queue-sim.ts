/**
 * Classic queues over the simulated network: each node is a real Broker whose queues live
 * on their home node and are reached from the others through the real QueueForwarding
 * (src/cluster/queues), over an in-memory link driven by the simulator's event queue
 * (test/support/forwarding-link.ts). Clients publish with confirms to queues homed on
 * random nodes and consume with acks, requeues, rejects, basic.gets and cancels on random
 * nodes, while a nemesis partitions, flaps links, crashes and restarts nodes and changes the
 * weather. As on TCP, a link is ordered and loses traffic only by dropping as a whole: a
 * frame the weather drops ends the link's session (onLinkLost on both ends) until it
 * reconnects. Queues are transient: a restarted home comes back without its messages, and
 * its queues are deleted and declared anew everywhere (as the cluster deletes a restarted
 * node's transient queues), which exempts their earlier messages from "at least once".
 *
 * Invariants: queue-ledger.ts. A run has a chaos phase and a liveness phase (healed, calm,
 * every node up, consumers draining every queue); a seed replays exactly: every choice
 * comes from one Prng, and the promises of the forwarding settle between events (the run
 * yields to them after each event, as Node runs microtasks after each I/O callback).
 */
import type { MetadataCommand } from "../../src/vhost/commands/command-types.js";
import { MemoryForwardingNet } from "../support/forwarding-link.js";
import { EventQueue } from "./event-queue.js";
import type { Violation } from "./invariant-checker.js";
import { Prng } from "./prng.js";
import { QueueLedger } from "./queue-ledger.js";
import { SimClients } from "./queue-sim-clients.js";
import { QueueSimNode } from "./queue-sim-node.js";

export interface QueueSimConfig {
  readonly seed: number;
  /** Nodes; by default 2, 3 or 4 chosen by the seed. */
  readonly nodeCount?: number;
  readonly queueCount?: number;
  readonly chaosMs?: number;
  readonly livenessMs?: number;
  readonly faults?: boolean;
  readonly trace?: (line: string) => void;
  /** A planted bug (queue-planted-bugs.ts) changes each node's forwarding as it starts. */
  readonly plant?: (node: QueueSimNode) => void;
}

export interface QueueSimResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly violations: readonly Violation[];
  readonly faults: number;
  readonly published: number;
  readonly confirmed: number;
  readonly deliveries: number;
  readonly homeSettles: number;
  readonly linksLost: number;
  readonly frames: number;
  readonly simulatedMs: number;
}

export const QUEUE_CHAOS_MS = 2_000;
export const QUEUE_LIVENESS_MS = 3_000;
/** Clients keep publishing this long into the liveness phase, then consumers drain. */
const PUBLISHING_IN_LIVENESS_MS = 300;

interface Weather {
  loss: number;
  minDelayMs: number;
  maxDelayMs: number;
}

const CALM: Weather = { loss: 0, minDelayMs: 0.5, maxDelayMs: 3 };

/** Lets the promises and microtasks of the event just run settle (they run before this). */
const settleTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ClassicQueueSim {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly ledger: QueueLedger;
  readonly net: MemoryForwardingNet;
  readonly nodes: QueueSimNode[] = [];
  readonly queueNames: string[];
  /** Every definitions change so far, in order: a restarted node applies them all. */
  private readonly definitions: MetadataCommand[] = [];
  private readonly homeOf = new Map<string, string>();
  private weather: Weather = { ...CALM };
  private liveness = false;
  private readonly clients: SimClients;
  private faults = 0;
  private drainChecks = 0;

  constructor(private readonly config: QueueSimConfig) {
    this.prng = new Prng(config.seed);
    this.ledger = new QueueLedger(() => this.queue.nowMs);
    this.net = new MemoryForwardingNet(
      { after: (delayMs, run) => this.queue.after(delayMs, run) },
      {
        delayMs: () => this.prng.between(this.weather.minDelayMs, this.weather.maxDelayMs),
        dropsFrame: () => this.weather.loss > 0 && this.prng.chance(this.weather.loss),
        reconnectMs: () => this.prng.between(5, 80),
      },
      () => this.queue.nowMs,
    );
    this.net.onLost = (a, b) => {
      this.trace(`link ${a}-${b} lost`);
      this.ledger.linkLost(a, b);
    };
    const nodeCount = config.nodeCount ?? [2, 3, 4][config.seed % 3]!;
    for (let i = 1; i <= nodeCount; i++) {
      this.nodes.push(new QueueSimNode(`n${i}`, this.net, () => this.queue.nowMs));
    }
    this.queueNames = Array.from(
      { length: config.queueCount ?? this.prng.int(1, 4) },
      (_, i) => `q${i}`,
    );
    this.clients = new SimClients({
      prng: this.prng,
      queue: this.queue,
      ledger: this.ledger,
      nodes: this.nodes,
      queueNames: this.queueNames,
      homeOf: this.homeOf,
      liveness: () => this.liveness,
      trace: (line) => this.trace(line),
    });
  }

  trace(line: string): void {
    this.config.trace?.(`${this.queue.nowMs.toFixed(1).padStart(8)}ms ${line}`);
  }

  async run(): Promise<QueueSimResult> {
    for (const node of this.nodes) this.startNode(node);
    for (const name of this.queueNames) this.declare(name, this.prng.pick(this.nodes).id);
    const chaosMs = this.config.chaosMs ?? QUEUE_CHAOS_MS;
    const livenessMs = this.config.livenessMs ?? QUEUE_LIVENESS_MS;
    this.loop(
      () => this.prng.between(2, 20),
      chaosMs + livenessMs,
      () => this.clients.publishSomething(),
      () => !this.liveness || this.queue.nowMs < chaosMs + PUBLISHING_IN_LIVENESS_MS,
    );
    this.loop(
      () => this.prng.between(5, 40),
      chaosMs + livenessMs,
      () => this.clients.consumeSomething(),
    );
    if (this.config.faults ?? true) {
      this.loop(
        () => this.prng.between(30, 300),
        chaosMs,
        () => this.strike(),
      );
    }
    try {
      await this.runUntil(chaosMs);
      if (this.ledger.violations.length === 0) {
        this.heal();
        await this.runUntil(chaosMs + livenessMs, () => this.drained(chaosMs));
      }
      if (this.ledger.violations.length === 0) {
        this.ledger.checkAtLeastOnce((name) => this.nodes[0]!.queue(name)?.storeId);
      }
    } catch (error) {
      this.ledger.fault("assertion", error instanceof Error ? error.message : String(error));
    }
    return {
      seed: this.config.seed,
      nodeCount: this.nodes.length,
      violations: this.ledger.violations,
      faults: this.faults,
      published: this.clients.published,
      confirmed: this.ledger.confirmedCount,
      deliveries: this.ledger.deliveries,
      homeSettles: this.ledger.homeSettles,
      linksLost: this.net.linksLost,
      frames: this.net.framesSent,
      simulatedMs: this.queue.nowMs,
    };
  }

  /** Publishing has stopped and every queue is empty, nothing unacked: the drain is over. */
  private drained(chaosMs: number): boolean {
    if (this.queue.nowMs < chaosMs + PUBLISHING_IN_LIVENESS_MS + 20) return false;
    if (++this.drainChecks % 64 !== 0) return false;
    return this.nodes.every((n) =>
      n.homeQueues().every((q) => q.messageCount === 0 && q.stats().messagesUnacknowledged === 0),
    );
  }

  /** Runs events until untilMs (or done), letting each one's promises settle before the next. */
  private async runUntil(untilMs: number, done: () => boolean = () => false): Promise<void> {
    while (this.queue.runNext(untilMs)) {
      await settleTurn();
      // The turn's end, as the runtime's flush: dispatches that yielded at their batch limit.
      for (const node of this.nodes) {
        const broker = node.broker;
        if (broker && (broker.pendingDispatch.size > 0 || broker.chores.size > 0)) {
          broker.chores.runAll(broker.clock());
          broker.runPendingDispatch();
          await settleTurn();
        }
      }
      if (this.ledger.violations.length > 0 || done()) return;
    }
  }

  private loop(
    intervalMs: () => number,
    untilMs: number,
    action: () => void,
    enabled: () => boolean = () => true,
  ): void {
    const next = () => {
      if (this.queue.nowMs >= untilMs) return;
      if (enabled()) action();
      this.queue.after(intervalMs(), next);
    };
    this.queue.after(intervalMs(), next);
  }

  // ------------------------------------------------------------ definitions

  private startNode(node: QueueSimNode): void {
    node.start(this.definitions);
    this.config.plant?.(node);
    for (const q of node.homeQueues()) this.ledger.instrumentHomeQueue(q);
  }

  /** A definitions change, applied on every node that is up (the metadata group's commit). */
  private define(command: MetadataCommand): void {
    this.definitions.push(command);
    for (const node of this.nodes) {
      if (!node.broker) continue;
      node.broker.submitNow(command);
      for (const q of node.homeQueues()) this.ledger.instrumentHomeQueue(q);
    }
  }

  private declare(name: string, home: string): void {
    this.homeOf.set(name, home);
    this.define({
      type: "queue.declare",
      vhost: "/",
      queue: name,
      durable: false,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      home,
    });
  }

  private upNodes(): QueueSimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  private servingNodes(): QueueSimNode[] {
    return this.nodes.filter((n) => n.serving);
  }

  // ------------------------------------------------------------ faults

  private strike(): void {
    const { prng } = this;
    const ids = this.nodes.map((n) => n.id);
    const roll = prng.next();
    let detail: string;
    if (roll < 0.2) {
      const shuffled = prng.shuffle(ids);
      const cut = prng.int(1, ids.length - 1);
      for (const a of shuffled.slice(0, cut))
        for (const b of shuffled.slice(cut)) this.net.cut(a, b);
      detail = `partition ${shuffled.slice(0, cut).join(",")} | ${shuffled.slice(cut).join(",")}`;
    } else if (roll < 0.35) {
      const [a, b] = prng.shuffle(ids);
      this.net.cut(a!, b!);
      this.queue.after(prng.between(1, 50), () => {
        if (!this.liveness) this.net.heal(a!, b!);
      });
      detail = `flap ${a}-${b}`;
    } else if (roll < 0.55) {
      this.net.healAll();
      detail = "heal";
    } else if (roll < 0.62) {
      const serving = this.servingNodes();
      if (serving.length === 0) return;
      const node = prng.pick(serving);
      this.pause(node, prng.between(10, 300));
      detail = `pause ${node.id}`;
    } else if (roll < 0.72) {
      const up = this.upNodes();
      if (up.length === 0) return;
      const node = prng.pick(up);
      this.crash(node);
      detail = `crash ${node.id}`;
    } else if (roll < 0.85) {
      const down = this.nodes.filter((n) => !n.up);
      if (down.length === 0) return;
      const node = prng.pick(down);
      this.restart(node);
      detail = `restart ${node.id}`;
    } else {
      this.weather = prng.chance(0.3)
        ? { ...CALM }
        : {
            loss: prng.chance(0.4) ? 0 : prng.between(0.002, 0.05),
            minDelayMs: prng.between(0.1, 2),
            maxDelayMs: prng.between(2, 40),
          };
      detail = `weather loss ${this.weather.loss.toFixed(3)} delay ${this.weather.minDelayMs.toFixed(1)}-${this.weather.maxDelayMs.toFixed(1)}ms`;
    }
    this.faults++;
    this.trace(`nemesis ${detail}`);
  }

  /**
   * The node pauses as a minority would (pause_minority): its clients' connections close
   * (their channels requeue what they held), and its queues serve no other node until it
   * resumes (QueueHost.pause ends those consumers and requeues what they held).
   */
  private pause(node: QueueSimNode, forMs: number): void {
    node.paused = true;
    for (const c of [...node.consumers]) this.clients.close(node, c);
    this.ledger.homePaused(node.id);
    node.forwarding!.host.pause("the simulated node cannot see a majority");
    const incarnation = node.incarnation;
    this.queue.after(forMs, () => {
      if (node.incarnation !== incarnation || !node.paused) return;
      node.paused = false;
      node.forwarding!.host.resume();
      this.trace(`${node.id} resumes`);
    });
  }

  private crash(node: QueueSimNode): void {
    this.ledger.nodeDown(node.id);
    node.crash();
  }

  /**
   * A restarted node has none of its transient queues' messages: the cluster deletes its
   * queues and they are declared again (new store ids), on every node.
   */
  private restart(node: QueueSimNode): void {
    this.startNode(node);
    for (const name of this.queueNames) {
      if (this.homeOf.get(name) !== node.id) continue;
      this.define({ type: "queue.delete", vhost: "/", queue: name });
      this.declare(name, node.id);
    }
  }

  /** The liveness phase: every link up, calm weather, every node up, consumers drain everything. */
  private heal(): void {
    this.trace("liveness phase: healed, calm, every node up");
    this.liveness = true;
    this.net.healAll();
    this.weather = { ...CALM };
    for (const node of this.nodes) {
      if (!node.up) this.restart(node);
      else if (node.paused) {
        node.paused = false;
        node.forwarding!.host.resume();
      }
    }
  }
}

export function runQueueSimulation(config: QueueSimConfig): Promise<QueueSimResult> {
  return new ClassicQueueSim(config).run();
}
