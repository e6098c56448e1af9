/**
 * Between a quorum queue's resolved settings (arguments and policies) and what its machine
 * replicates, and between the machine's dead-lettered messages and the broker's dead-lettering.
 */
import type { Message } from "../../message/message.js";
import type { QueueSettings } from "../../queue/queue-settings.js";
import type { QueueDelivery } from "../../queue/queue-type.js";
import type { QuorumSettings } from "../../quorum/quorum-arguments.js";
import type { QuorumConfig } from "../../quorum/quorum-commands.js";
import type { DeadLettered } from "../../quorum/quorum-machine.js";
import { decodeMessage } from "../../store/message-records.js";

/**
 * What the machine must know of a queue's settings, the same on every replica: the limits
 * shared with classic queues (resolveQueueSettings) and the quorum queue's own resolution of
 * overflow, delivery limit and dead-letter strategy (resolveQuorumSettings).
 */
export function quorumConfigOf(settings: QueueSettings, quorum: QuorumSettings): QuorumConfig {
  return {
    deliveryLimit: quorum.deliveryLimit,
    maxLength: settings.maxLength,
    maxLengthBytes: settings.maxLengthBytes,
    overflow: quorum.overflow,
    messageTtlMs: settings.messageTtlMs,
    singleActiveConsumer: settings.singleActiveConsumer,
    deadLetter: settings.deadLetterExchange !== undefined,
    deadLetterStrategy: quorum.deadLetterStrategy,
    ...(settings.retryDelayMs === undefined || settings.retryDelayMs <= 0
      ? {}
      : { retryDelayMs: settings.retryDelayMs, retryDelayMaxMs: settings.retryDelayMaxMs }),
  };
}

/** The message a log payload holds (encodeMessage's bytes), decoded without a copy first. */
export function messageOf(payload: Uint8Array): Message {
  return decodeMessage(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
}

/** A dead-lettered message as the broker's dead-lettering takes it. */
export function encodeMessageDelivery(dead: DeadLettered): QueueDelivery {
  return {
    message: messageOf(dead.payload),
    redelivered: dead.deliveryCount > 0,
    deliveryCount: dead.deliveryCount,
  };
}
