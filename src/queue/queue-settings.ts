import type { FieldTable, FieldValue } from "../protocol/field-table.js";

export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";

/**
 * The behaviour of one queue as its arguments and policies decide it. Recomputed
 * whenever a policy changes, so a policy applies to existing queues at once.
 */
export interface QueueSettings {
  readonly messageTtlMs: number | undefined;
  readonly expiresMs: number | undefined;
  readonly maxLength: number | undefined;
  readonly maxLengthBytes: number | undefined;
  readonly overflow: Overflow;
  readonly deadLetterExchange: string | undefined;
  readonly deadLetterRoutingKey: string | undefined;
  /** Deliveries allowed before a returned message is dead-lettered (x-delivery-limit). */
  readonly deliveryLimit: number | undefined;
  /** Beyond RabbitMQ: first delay before a nacked message is offered again; doubles each time. */
  readonly retryDelayMs: number | undefined;
  readonly retryDelayMaxMs: number;
  /** Only from x-max-priority (RabbitMQ: not policy-controllable). */
  readonly maxPriority: number | undefined;
  readonly singleActiveConsumer: boolean;
  readonly consumerTimeoutMs: number | undefined;
  /**
   * x-queue-mode (or policy queue-mode) `lazy`: RabbitMQ's mode for queues meant to hold
   * long backlogs. Publisher flow control treats such a queue as a store.
   */
  readonly lazy: boolean;
  /** Names of the applied policy and operator policy, for list_queues. */
  readonly policy: string | undefined;
  readonly operatorPolicy: string | undefined;
}

export const DEFAULT_RETRY_DELAY_MAX_MS = 60_000;

/** Only the definition part of a policy matters here. */
export interface PolicyLike {
  readonly name: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

function argNumber(args: FieldTable, key: string): number | undefined {
  const v: FieldValue | undefined = args.get(key);
  if (!v) return undefined;
  if ("bBUsuIilLfd".includes(v.type)) return Number(v.value);
  return undefined;
}

function argString(args: FieldTable, key: string): string | undefined {
  const v = args.get(key);
  return v?.type === "S" || v?.type === "x" ? v.value.toString() : undefined;
}

function policyNumber(p: PolicyLike | undefined, key: string): number | undefined {
  const v = p?.definition[key];
  return typeof v === "number" ? v : undefined;
}

function policyString(p: PolicyLike | undefined, key: string): string | undefined {
  const v = p?.definition[key];
  return typeof v === "string" ? v : undefined;
}

function nonNegative(v: number | undefined): number | undefined {
  return v !== undefined && v >= 0 ? v : undefined;
}

function minOf(...values: (number | undefined)[]): number | undefined {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length > 0 ? Math.min(...present) : undefined;
}

/**
 * RabbitMQ's conflict rules (rabbit_amqqueue_process, rabbit_policy): for limits
 * (expires, message-ttl, max-length, max-length-bytes, delivery-limit) the lowest
 * of argument, policy and operator policy wins; for the rest (dead-letter-exchange,
 * dead-letter-routing-key, overflow, queue-mode) the queue's own argument wins
 * over the policy, and operator policies do not set them.
 */
export function resolveQueueSettings(
  args: FieldTable,
  policy?: PolicyLike,
  operator?: PolicyLike,
): QueueSettings {
  const min = (arg: string, key: string) =>
    minOf(argNumber(args, arg), policyNumber(policy, key), policyNumber(operator, key));
  const argFirst = (arg: string, key: string) => argString(args, arg) ?? policyString(policy, key);
  const overflow = argFirst("x-overflow", "overflow");
  const sac = args.get("x-single-active-consumer");
  return {
    messageTtlMs: min("x-message-ttl", "message-ttl"),
    expiresMs: min("x-expires", "expires"),
    maxLength: min("x-max-length", "max-length"),
    maxLengthBytes: min("x-max-length-bytes", "max-length-bytes"),
    overflow:
      overflow === "reject-publish" || overflow === "reject-publish-dlx" ? overflow : "drop-head",
    deadLetterExchange: argFirst("x-dead-letter-exchange", "dead-letter-exchange"),
    deadLetterRoutingKey: argFirst("x-dead-letter-routing-key", "dead-letter-routing-key"),
    // A negative delivery-limit policy is RabbitMQ 4's "unlimited" (for quorum queues).
    deliveryLimit: minOf(
      argNumber(args, "x-delivery-limit"),
      nonNegative(policyNumber(policy, "delivery-limit")),
      nonNegative(policyNumber(operator, "delivery-limit")),
    ),
    retryDelayMs: argNumber(args, "x-retry-delay") ?? policyNumber(policy, "retry-delay"),
    retryDelayMaxMs:
      argNumber(args, "x-retry-delay-max") ??
      policyNumber(policy, "retry-delay-max") ??
      DEFAULT_RETRY_DELAY_MAX_MS,
    maxPriority: argNumber(args, "x-max-priority"),
    singleActiveConsumer: sac?.type === "t" && sac.value,
    consumerTimeoutMs: minOf(
      argNumber(args, "x-consumer-timeout"),
      policyNumber(policy, "consumer-timeout"),
      policyNumber(operator, "consumer-timeout"),
    ),
    lazy: argFirst("x-queue-mode", "queue-mode") === "lazy",
    policy: policy?.name,
    operatorPolicy: operator?.name,
  };
}

export const NO_SETTINGS: QueueSettings = resolveQueueSettings(new Map());
