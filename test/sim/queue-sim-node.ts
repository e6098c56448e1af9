/**
 * One node of the classic-queue simulation (classic-queue-sim.ts): a real Broker with the
 * real QueueForwarding on its end of the simulated link, and the clients that use it:
 * consumers (SimConsumer, a channel's side of a consumer) and basic.gets. A crash throws
 * the whole incarnation away (the broker, its clients and their state); a restart builds a
 * new one from the definitions log, as a node recovers its metadata.
 */
import { QueueForwarding } from "../../src/cluster/queues/queue-forwarding.js";
import { silentLog } from "../../src/log.js";
import type { Message } from "../../src/message/message.js";
import { encodeProperties, summarizeProperties } from "../../src/protocol/content-properties.js";
import type { CancelReason, Consumer, ConsumerSink } from "../../src/queue/consumer.js";
import type { Queue, QueueDelivery } from "../../src/queue/queue-type.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";
import type { MetadataCommand } from "../../src/vhost/commands/command-types.js";
import type { MemoryForwardingNet } from "../support/forwarding-link.js";
import type { Holder } from "./queue-ledger.js";

/** Simulated time as a wall clock the broker believes. */
const EPOCH_MS = Date.UTC(2026, 0, 1);

const PROPERTIES = encodeProperties({});

/** A transient message whose body is its key in the ledger. */
export function simMessage(key: string, id: number): Message {
  return {
    id,
    exchange: "",
    routingKey: key,
    properties: PROPERTIES,
    summary: summarizeProperties(PROPERTIES),
    body: Buffer.from(key),
    persistent: false,
    arrivedAtMs: 0,
  };
}

/** What a consumer's client does with what it gets. */
export interface ConsumerEvents {
  delivered(consumer: SimConsumer, delivery: QueueDelivery): void;
  cancelled(consumer: SimConsumer, reason: CancelReason): void;
}

/** A client's consumer: the ConsumerSink a channel would be. */
export class SimConsumer implements ConsumerSink, Holder {
  consumer: Consumer | undefined;
  /** Deliveries it holds and its client will settle (keyed by message body). */
  readonly held = new Map<string, QueueDelivery>();
  live = true;

  constructor(
    readonly id: string,
    readonly node: string,
    readonly home: string,
    readonly queueName: string,
    readonly prefetch: number,
    private readonly events: ConsumerEvents,
  ) {}

  hasCredit(_consumer: Consumer): boolean {
    return true;
  }

  deliver(consumer: Consumer, delivery: QueueDelivery, _queue: Queue): void {
    this.consumer = consumer; // may come inside addConsumer, before it returns
    this.events.delivered(this, delivery);
  }

  cancelledByQueue(_consumer: Consumer, reason: CancelReason): void {
    this.events.cancelled(this, reason);
  }
}

export class QueueSimNode {
  broker: Broker | undefined;
  forwarding: QueueForwarding | undefined;
  incarnation = 0;
  /** Paused as a minority: its clients are disconnected and its queues serve nobody. */
  paused = false;
  readonly consumers: SimConsumer[] = [];

  constructor(
    readonly id: string,
    private readonly net: MemoryForwardingNet,
    private readonly nowMs: () => number,
  ) {}

  get up(): boolean {
    return this.broker !== undefined;
  }

  /** Up and serving clients (not paused). */
  get serving(): boolean {
    return this.broker !== undefined && !this.paused;
  }

  /** A new incarnation: a fresh broker that applies the definitions log, then joins the net. */
  start(definitions: readonly MetadataCommand[]): void {
    this.incarnation++;
    this.paused = false;
    const broker = new Broker({ ...DEFAULT_SETTINGS, nodeName: this.id }, silentLog, {
      clock: () => EPOCH_MS + this.nowMs(),
      randomBytes: (size) => Buffer.alloc(size),
    });
    this.forwarding = new QueueForwarding(broker, this.net.endpoint(this.id), silentLog);
    broker.addVhost("/");
    for (const command of definitions) broker.submitNow(command);
    this.broker = broker;
  }

  /** The process is gone: its links drop, its clients with it. */
  crash(): void {
    this.incarnation++; // nothing its clients scheduled runs now
    this.net.remove(this.id);
    this.broker = undefined;
    this.forwarding = undefined;
    for (const c of this.consumers) c.live = false;
    this.consumers.length = 0;
  }

  queue(name: string): Queue | undefined {
    return this.broker?.vhosts.get("/")?.queues.get(name);
  }

  /** The queues that live here (not stand-ins). */
  homeQueues(): Queue[] {
    const queues = this.broker?.vhosts.get("/")?.queues;
    return queues ? [...queues.values()].filter((q) => q.remote === undefined) : [];
  }

  now(): number {
    return EPOCH_MS + this.nowMs();
  }
}
