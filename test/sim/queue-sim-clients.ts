/**
 * The clients of the classic-queue simulation (classic-queue-sim.ts): publishers with
 * confirms, consumers that ack, requeue, reject, cancel and close their channels, and
 * basic.gets, on random nodes, each reporting what it holds to the ledger.
 */
import type { QueueDelivery } from "../../src/queue/queue-type.js";
import type { EventQueue } from "./event-queue.js";
import type { Prng } from "./prng.js";
import type { QueueLedger } from "./queue-ledger.js";
import { type QueueSimNode, SimConsumer, simMessage } from "./queue-sim-node.js";

/** What the clients need of the simulation. */
export interface ClientWorld {
  readonly prng: Prng;
  readonly queue: EventQueue;
  readonly ledger: QueueLedger;
  readonly nodes: readonly QueueSimNode[];
  readonly queueNames: readonly string[];
  readonly homeOf: ReadonlyMap<string, string>;
  /** The liveness phase: consumers everywhere, settling at once, no cancels. */
  liveness(): boolean;
  trace(line: string): void;
}

export class SimClients {
  readonly prng: Prng;
  readonly queue: EventQueue;
  readonly ledger: QueueLedger;
  readonly nodes: readonly QueueSimNode[];
  readonly queueNames: readonly string[];
  readonly homeOf: ReadonlyMap<string, string>;
  published = 0;
  private nextClient = 1;

  constructor(private readonly world: ClientWorld) {
    this.prng = world.prng;
    this.queue = world.queue;
    this.ledger = world.ledger;
    this.nodes = world.nodes;
    this.queueNames = world.queueNames;
    this.homeOf = world.homeOf;
  }

  private get liveness(): boolean {
    return this.world.liveness();
  }

  private trace(line: string): void {
    this.world.trace(line);
  }

  /** Nodes whose clients are connected: up and not paused. */
  private servingNodes(): QueueSimNode[] {
    return this.nodes.filter((n) => n.serving);
  }

  /** A publish with confirms, on a random node, to a random queue. */
  publishSomething(): void {
    const up = this.servingNodes();
    if (up.length === 0) return;
    const node = this.prng.pick(up);
    const name = this.prng.pick(this.queueNames);
    const queue = node.queue(name);
    if (!queue || !node.broker) return;
    const key = `${name}#${this.published++}`;
    const incarnation = node.incarnation;
    const storeId = queue.storeId;
    const message = simMessage(key, node.broker.newMessageId());
    node.broker.enqueue([queue], message, node.now()).whenSettled((result) => {
      // A confirm counts only if its client, on the same incarnation, could have heard it.
      if (result.accepted && node.incarnation === incarnation) {
        this.ledger.confirm(key, name, storeId);
      }
    });
  }

  /** Consumers come and go; basic.gets now and then. In the liveness phase, every node drains every queue. */
  consumeSomething(): void {
    for (const node of this.servingNodes()) {
      if (this.liveness) {
        for (const name of this.queueNames) {
          if (!node.consumers.some((c) => c.live && c.queueName === name)) this.attach(node, name);
        }
        continue;
      }
      const roll = this.prng.next();
      if (roll < 0.3 && node.consumers.length < 3)
        this.attach(node, this.prng.pick(this.queueNames));
      else if (roll < 0.4 && node.consumers.length > 0) this.cancel(node, this.prng.chance(0.5));
      else if (roll < 0.5) this.get(node, this.prng.pick(this.queueNames));
    }
  }

  private attach(node: QueueSimNode, name: string): void {
    const queue = node.queue(name);
    if (!queue) return;
    const prefetch = this.prng.pick([0, 1, 2, 3, 10]);
    const sim = new SimConsumer(
      `c${this.nextClient++}`,
      node.id,
      this.homeOf.get(name)!,
      name,
      prefetch,
      {
        delivered: (c, d) => this.delivered(node, c, d),
        cancelled: (c, reason) => {
          this.trace(`${c.id} on ${node.id} cancelled by ${name}: ${reason}`);
          this.ended(node, c);
        },
      },
    );
    node.consumers.push(sim);
    try {
      sim.consumer = queue.addConsumer(
        {
          tag: sim.id,
          noAck: false,
          exclusive: false,
          priority: 0,
          prefetchCount: prefetch,
          arguments: new Map(),
        },
        sim,
        node.now(),
      );
      this.trace(`${sim.id} consumes ${name} on ${node.id} (prefetch ${prefetch})`);
    } catch {
      this.ended(node, sim); // 404: the home is out of reach
    }
  }

  /** The consumer is over (cancelled by the queue or the link): what it held is no longer its. */
  private ended(node: QueueSimNode, c: SimConsumer): void {
    c.live = false;
    for (const key of c.held.keys()) this.ledger.released(key, c);
    const i = node.consumers.indexOf(c);
    if (i >= 0) node.consumers.splice(i, 1);
  }

  /** basic.cancel (what it holds stays its to settle), or a channel close (requeued). */
  private cancel(node: QueueSimNode, close: boolean): void {
    const c = this.prng.pick(node.consumers);
    if (close) {
      this.close(node, c);
      return;
    }
    const consumer = c.consumer;
    if (!consumer) return;
    this.trace(`${c.id} on ${node.id} cancels`);
    consumer.queue.removeConsumer(consumer, node.now());
    c.live = false;
    node.consumers.splice(node.consumers.indexOf(c), 1);
  }

  /** The consumer's channel closes: the consumer goes, and what it held is requeued. */
  close(node: QueueSimNode, c: SimConsumer): void {
    const consumer = c.consumer;
    this.trace(`${c.id} on ${node.id} closes its channel`);
    if (consumer && c.live) consumer.queue.removeConsumer(consumer, node.now());
    c.live = false;
    const i = node.consumers.indexOf(c);
    if (i >= 0) node.consumers.splice(i, 1);
    for (const [key, d] of [...c.held]) this.settle(node, c, key, d, "requeue");
  }

  private delivered(node: QueueSimNode, c: SimConsumer, d: QueueDelivery): void {
    const key = d.message.body.toString();
    if (!c.live) {
      this.ledger.fault("cancelled is final", `${key} delivered to ${c.id} after it ended`);
      return;
    }
    this.ledger.held(key, c);
    c.held.set(key, d);
    this.trace(`${c.id} on ${node.id} got ${key}`);
    if (c.prefetch > 0 && c.held.size > c.prefetch) {
      this.ledger.fault(
        "prefetch",
        `${c.id} on ${node.id} holds ${c.held.size} deliveries of ${c.queueName} (prefetch ${c.prefetch})`,
      );
    }
    const incarnation = node.incarnation;
    // Mostly quick, sometimes slow: a slow client's settles may outlive its link's session.
    const delayMs = this.liveness
      ? this.prng.between(0, 1)
      : this.prng.chance(0.7)
        ? this.prng.between(0, 20)
        : this.prng.between(20, 1000);
    const roll = this.prng.next();
    const outcome = this.liveness || roll < 0.8 ? "ack" : roll < 0.95 ? "requeue" : "reject";
    this.queue.after(delayMs, () => {
      if (node.incarnation === incarnation) this.settle(node, c, key, d, outcome);
    });
  }

  /**
   * The client settles what it got, even after its consumer ended: a real client does not
   * know the home requeued it, and the stand-in must drop such a settle.
   */
  private settle(
    node: QueueSimNode,
    c: SimConsumer,
    key: string,
    d: QueueDelivery,
    outcome: "ack" | "requeue" | "reject",
  ): void {
    if (c.held.get(key) !== d || !c.consumer) return;
    c.held.delete(key);
    this.ledger.released(key, c);
    this.trace(`${c.id} on ${node.id} settles ${key}: ${outcome}`);
    const queue = c.consumer.queue;
    if (outcome === "ack") queue.ack(d, c.consumer, node.now());
    else if (outcome === "requeue") queue.requeue(d, c.consumer, node.now());
    else queue.reject(d, c.consumer, node.now());
  }

  /** basic.get, from the home itself or through the stand-in; settled a little later. */
  private get(node: QueueSimNode, name: string): void {
    const queue = node.queue(name);
    if (!queue) return;
    const holder = { id: `g${this.nextClient++}`, node: node.id, home: this.homeOf.get(name)! };
    const incarnation = node.incarnation;
    const got = (d: QueueDelivery | undefined) => {
      if (!d || node.incarnation !== incarnation) return;
      const key = d.message.body.toString();
      this.ledger.held(key, holder);
      this.trace(`${holder.id} on ${node.id} got ${key}`);
      const ack = this.prng.chance(0.8);
      this.queue.after(this.prng.between(0, 40), () => {
        if (node.incarnation !== incarnation) return;
        this.ledger.released(key, holder);
        if (ack) queue.ack(d, undefined, node.now());
        else queue.requeue(d, undefined, node.now());
      });
    };
    if (queue.fetchAtHome) {
      queue.fetchAtHome(false, node.now()).then(got, () => {});
    } else got(queue.fetch(false, node.now()));
  }
}
