/**
 * Between a quorum queue's resolved settings (arguments and policies) and what its machine
 * replicates, and between the machine's dead-lettered messages and the broker's dead-lettering.
 */
import type { QueueSettings } from "../../queue/queue-settings.js";
import type { QueueDelivery } from "../../queue/queue-type.js";
import type { QuorumConfig } from "../../quorum/quorum-commands.js";
import type { DeadLettered } from "../../quorum/quorum-machine.js";
import { decodeMessage } from "../../store/message-records.js";

/** RabbitMQ 4's default delivery limit for quorum queues. */
export const DEFAULT_DELIVERY_LIMIT = 20;

/** What the machine must know of a queue's settings, the same on every replica. */
export function quorumConfigOf(settings: QueueSettings): QuorumConfig {
  const overflow = settings.overflow;
  const deadLetter = settings.deadLetterExchange !== undefined;
  const strategy = (settings as { deadLetterStrategy?: string }).deadLetterStrategy;
  return {
    deliveryLimit: settings.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
    maxLength: settings.maxLength,
    maxLengthBytes: settings.maxLengthBytes,
    overflow,
    messageTtlMs: settings.messageTtlMs,
    singleActiveConsumer: settings.singleActiveConsumer,
    deadLetter,
    // RabbitMQ: at-least-once needs overflow reject-publish; otherwise it is at-most-once.
    deadLetterStrategy:
      deadLetter && strategy === "at-least-once" && overflow === "reject-publish"
        ? "at-least-once"
        : "at-most-once",
  };
}

/** A dead-lettered message as the broker's dead-lettering takes it. */
export function encodeMessageDelivery(dead: DeadLettered): QueueDelivery {
  const payload = Buffer.from(
    dead.payload.buffer,
    dead.payload.byteOffset,
    dead.payload.byteLength,
  );
  return {
    message: decodeMessage(payload),
    redelivered: dead.deliveryCount > 0,
    deliveryCount: dead.deliveryCount,
  };
}
