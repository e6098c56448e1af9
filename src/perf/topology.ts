import type { FieldTable, FieldValue } from "../protocol/field-table.js";
import type { ClientChannel } from "./client-channel.js";
import type { PerfOptions, QueueArgValue } from "./perf-options.js";

/** Where a publisher sends one message. */
export interface Route {
  readonly exchange: string;
  readonly routingKey: string;
}

/** The queues and exchange a run uses, and who talks to which. */
export interface Topology {
  readonly exchange: { readonly name: string; readonly type: "direct" | "fanout" };
  readonly queues: readonly string[];
  /** The routes a publisher cycles through, one message each. */
  readonly routes: readonly Route[];
}

/**
 * Queues are PREFIX-1 .. PREFIX-N behind one exchange named PREFIX-direct or
 * PREFIX-fanout. Direct: each queue is bound under its own name and publishers cycle
 * over the queues, one message each. Fanout: every message goes to every queue.
 */
export function planTopology(o: PerfOptions): Topology {
  const queues = Array.from({ length: o.queues }, (_, i) => `${o.queuePrefix}-${i + 1}`);
  const exchange = { name: `${o.queuePrefix}-${o.exchange}`, type: o.exchange };
  const routes =
    o.exchange === "fanout"
      ? [{ exchange: exchange.name, routingKey: "" }]
      : queues.map((q) => ({ exchange: exchange.name, routingKey: q }));
  return { exchange, queues, routes };
}

/** Consumer j reads queue j mod N, so consumers spread evenly over the queues. */
export function queueForConsumer(t: Topology, consumerIndex: number): string {
  return t.queues[consumerIndex % t.queues.length]!;
}

/**
 * A publisher's routes, rotated so that with several publishers and several queues
 * the publishers do not all start on the first queue.
 */
export function routesForPublisher(t: Topology, publisherIndex: number): Route[] {
  const n = t.routes.length;
  const shift = publisherIndex % n;
  return [...t.routes.slice(shift), ...t.routes.slice(0, shift)];
}

/** Queue arguments as an AMQP field table: integers as signed 64-bit, booleans, strings. */
export function queueArgsTable(args: ReadonlyMap<string, QueueArgValue>): FieldTable {
  const table: FieldTable = new Map();
  for (const [k, v] of args) {
    let value: FieldValue;
    if (typeof v === "number") value = { type: "l", value: BigInt(v) };
    else if (typeof v === "boolean") value = { type: "t", value: v };
    else value = { type: "S", value: Buffer.from(v) };
    table.set(k, value);
  }
  return table;
}

export async function declareTopology(
  ch: ClientChannel,
  t: Topology,
  o: PerfOptions,
): Promise<void> {
  await ch.declareExchange(t.exchange.name, t.exchange.type, o.durable);
  const args = queueArgsTable(o.queueArgs);
  for (const q of t.queues) {
    await ch.declareQueue(q, { durable: o.durable, args });
    await ch.bindQueue(q, t.exchange.name, t.exchange.type === "fanout" ? "" : q);
  }
}

export async function deleteTopology(ch: ClientChannel, t: Topology): Promise<void> {
  for (const q of t.queues) await ch.deleteQueue(q);
  await ch.deleteExchange(t.exchange.name);
}
