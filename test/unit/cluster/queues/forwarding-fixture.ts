/**
 * Real Brokers joined by classic-queue forwarding over the in-memory link
 * (test/support/forwarding-link.ts): each node holds the same queue definitions, with the
 * home named as the metadata group would, and a QueueForwarding on its end of the net.
 */
import { QueueForwarding } from "../../../../src/cluster/queues/queue-forwarding.js";
import { silentLog } from "../../../../src/log.js";
import type { Message } from "../../../../src/message/message.js";
import {
  encodeProperties,
  summarizeProperties,
} from "../../../../src/protocol/content-properties.js";
import type { CancelReason, Consumer, ConsumerSink } from "../../../../src/queue/consumer.js";
import type { EnqueueResult } from "../../../../src/queue/enqueue-outcome.js";
import type { Queue, QueueDelivery, QueueStats } from "../../../../src/queue/queue-type.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import { MemoryForwardingNet } from "../../../support/forwarding-link.js";

export interface ForwardingNode {
  readonly name: string;
  readonly broker: Broker;
  readonly forwarding: QueueForwarding;
}

export class ForwardingCluster {
  readonly net = new MemoryForwardingNet();
  readonly nodes = new Map<string, ForwardingNode>();
  nowMs = 1_000_000;

  constructor(names: readonly string[]) {
    for (const name of names) {
      const broker = new Broker({ ...DEFAULT_SETTINGS, nodeName: name }, silentLog, {
        clock: () => this.nowMs,
        randomBytes: (size) => Buffer.alloc(size, 7),
      });
      broker.addVhost("/");
      const forwarding = new QueueForwarding(broker, this.net.endpoint(name), silentLog);
      this.nodes.set(name, { name, broker, forwarding });
    }
  }

  /** Declares the queue on every node, homed on `home` (a stand-in everywhere else). */
  declare(queue: string, home: string): void {
    for (const n of this.nodes.values()) {
      n.broker.submitNow({
        type: "queue.declare",
        vhost: "/",
        queue,
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: {},
        home,
      });
    }
  }

  /** The queue as `node` sees it: the real one on its home, the stand-in elsewhere. */
  queue(node: string, name: string): Queue {
    const q = this.nodes.get(node)!.broker.vhosts.get("/")!.queues.get(name);
    if (!q) throw new Error(`no queue ${name} on ${node}`);
    return q;
  }

  stats(home: string, name: string): QueueStats {
    return this.queue(home, name).stats();
  }
}

let nextId = 1;

export function message(body: string): Message {
  const properties = encodeProperties({});
  return {
    id: nextId++,
    exchange: "",
    routingKey: "q",
    properties,
    summary: summarizeProperties(properties),
    body: Buffer.from(body),
    persistent: false,
    arrivedAtMs: 0,
  };
}

/** Publishes through `queue` (a stand-in forwards it) and waits for its outcome. */
export function publish(queue: Queue, body: string, nowMs = 0): Promise<EnqueueResult> {
  const outcome = queue.enqueue(message(body), nowMs);
  return new Promise((resolve) => outcome.whenSettled(resolve));
}

/** A channel's side of one consumer: takes everything, records it, settles when told. */
export class TestConsumer implements ConsumerSink {
  readonly received: QueueDelivery[] = [];
  cancelled: CancelReason | undefined;
  consumer!: Consumer;
  /** The most unacked this consumer ever had. */
  maxUnacked = 0;

  static attach(queue: Queue, prefetchCount = 0, noAck = false): TestConsumer {
    const sink = new TestConsumer();
    sink.consumer = queue.addConsumer(
      {
        tag: `ctag-${nextId++}`,
        noAck,
        exclusive: false,
        priority: 0,
        prefetchCount,
        arguments: new Map(),
      },
      sink,
      0,
    );
    return sink;
  }

  get bodies(): string[] {
    return this.received.map((d) => d.message.body.toString());
  }

  hasCredit(_consumer: Consumer): boolean {
    return true;
  }

  deliver(consumer: Consumer, delivery: QueueDelivery, _queue: Queue): void {
    this.received.push(delivery);
    this.maxUnacked = Math.max(this.maxUnacked, consumer.unacked);
  }

  cancelledByQueue(_consumer: Consumer, reason: CancelReason): void {
    this.cancelled = reason;
  }

  settle(delivery: QueueDelivery, outcome: "ack" | "requeue" | "reject"): void {
    const q = this.consumer.queue;
    if (outcome === "ack") q.ack(delivery, this.consumer, 0);
    else if (outcome === "requeue") q.requeue(delivery, this.consumer, 0);
    else q.reject(delivery, this.consumer, 0);
  }
}

/** Lets frames cross and their effects run (several turns of the in-memory link). */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits (bounded) until `check` holds. */
export async function until(check: () => boolean, what: string, maxTurns = 500): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return;
    await turns(1);
  }
  throw new Error(`timed out waiting until ${what}`);
}
