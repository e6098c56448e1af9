import type { Method } from "../../protocol/generated/methods.js";
import type { Queue } from "../../queue/queue-type.js";
import type { Channel, Delivery } from "../channel.js";

type M<N extends Method["name"]> = Extract<Method, { name: N }>;
type Outcome = "ack" | "requeue" | "reject";

/**
 * The deliveries an ack, nack or reject names: one tag, or with `multiple` every
 * outstanding tag up to it (tag 0 with multiple means all; AMQP 0-9-1 basic.ack).
 */
function select(ch: Channel, tag: number, multiple: boolean): Delivery[] {
  if (multiple && tag === 0) {
    return [...ch.unacked.values()].filter((d) => !ch.txPendingTags.has(d.tag));
  }
  // The named tag must be outstanding, with or without `multiple` (RabbitMQ's collect_acks).
  const named = ch.unacked.get(tag);
  if (!named || ch.txPendingTags.has(tag)) throw ch.unknownTag(tag);
  if (!multiple) return [named];
  const out: Delivery[] = [];
  for (const d of ch.unacked.values()) {
    if (d.tag > tag) break;
    if (!ch.txPendingTags.has(d.tag)) out.push(d);
  }
  return out;
}

function settle(ch: Channel, deliveries: Delivery[], outcome: Outcome): void {
  const apply = () => {
    const now = ch.now;
    const touched = new Set<Queue>();
    for (const d of deliveries) {
      ch.forget(d);
      ch.txPendingTags.delete(d.tag);
      if (outcome === "ack") d.queue.ack(d.entry, d.consumer, now);
      else if (outcome === "requeue") d.queue.requeue(d.entry, d.consumer, now);
      else d.queue.reject(d.entry, d.consumer, now);
      touched.add(d.queue);
    }
    // Credit came back to these queues' consumers.
    for (const q of touched) q.dispatch(now);
  };
  if (ch.mode === "tx") {
    for (const d of deliveries) ch.txPendingTags.add(d.tag);
    ch.txActions.push({ kind: "settle", run: apply });
  } else {
    apply();
  }
}

export function ack(ch: Channel, m: M<"basic.ack">): void {
  settle(ch, select(ch, m.deliveryTag, m.multiple), "ack");
}

export function nack(ch: Channel, m: M<"basic.nack">): void {
  settle(ch, select(ch, m.deliveryTag, m.multiple), m.requeue ? "requeue" : "reject");
}

export function reject(ch: Channel, m: M<"basic.reject">): void {
  settle(ch, select(ch, m.deliveryTag, false), m.requeue ? "requeue" : "reject");
}
