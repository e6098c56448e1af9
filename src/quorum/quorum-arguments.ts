import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable, FieldValue } from "../protocol/field-table.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import {
  ARGUMENT_CHECKS,
  type ArgumentCheck,
  anyInteger,
  checkDeadLetterArguments,
  invalidArgument,
  otherTypesArgument,
} from "../queue/queue-argument-checks.js";
import type { PolicyLike } from "../queue/queue-settings.js";
import type { QueueDefinition } from "../queue/queue-type.js";
import type { DeadLetterStrategy } from "./quorum-commands.js";

/*
 * What RabbitMQ 4.x refuses when a quorum queue is declared, and the settings only
 * quorum queues have (rabbit_quorum_queue, rabbit_queue_type_util, rabbit_amqqueue).
 * docs/QUORUM.md, "Declaring", lists them.
 */

/** The Erlang module RabbitMQ names in its "of queue type" refusals. */
const QUORUM_MODULE = "rabbit_quorum_queue";

/**
 * The x-arguments a quorum queue accepts (rabbit_quorum_queue:capabilities/0, 4.x).
 * x-max-in-memory-length and -bytes are still accepted and have no effect: RabbitMQ 4
 * keeps no message bodies in memory to limit. x-consumer-timeout: Warren's consumer
 * timeout applies to every queue type.
 */
export const QUORUM_QUEUE_ARGUMENTS: ReadonlySet<string> = new Set([
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-dead-letter-strategy",
  "x-expires",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-in-memory-length",
  "x-max-in-memory-bytes",
  "x-overflow",
  "x-single-active-consumer",
  "x-queue-type",
  "x-quorum-initial-group-size",
  "x-delivery-limit",
  "x-message-ttl",
  "x-queue-leader-locator",
  "x-consumer-timeout",
  "x-retry-delay",
  "x-retry-delay-max",
]);

/**
 * Arguments of the other queue types (classic queues, streams), which a quorum queue
 * refuses; other unknown x-arguments pass, as in RabbitMQ. Warren's retry delays
 * (x-retry-delay, x-retry-delay-max) apply to quorum queues too.
 */
const OTHER_TYPES_ONLY = new Set([
  "x-max-priority",
  "x-queue-mode",
  "x-queue-version",
  "x-queue-master-locator",
  "x-max-age",
  "x-stream-max-segment-size-bytes",
  "x-stream-filter-size-bytes",
  "x-initial-cluster-size",
]);

/**
 * The value checks, in RabbitMQ's order (declare_args/0). x-delivery-limit is any
 * integer (negative: unlimited, RabbitMQ 4); RabbitMQ checks none of it, Warren its type.
 */
const CHECKED_IN_ORDER: readonly (readonly [string, ArgumentCheck])[] = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-strategy",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-in-memory-length",
  "x-max-in-memory-bytes",
  "x-overflow",
  "x-single-active-consumer",
  "x-quorum-initial-group-size",
  "x-queue-leader-locator",
  "x-consumer-timeout",
].map((k) => [k, ARGUMENT_CHECKS[k]!] as const);

/** Policy keys that do not apply to quorum queues: a policy with one of them does not apply at all. */
export const QUORUM_UNSUPPORTED_POLICY_KEYS: ReadonlySet<string> = new Set([
  "max-priority",
  "queue-mode",
  "ha-mode",
  "ha-params",
  "ha-sync-mode",
  "ha-promote-on-shutdown",
  "ha-promote-on-failure",
  "queue-master-locator",
  "max-age",
  "stream-max-segment-size-bytes",
  "initial-cluster-size",
]);

function invalidProperty(def: QueueDefinition, property: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid property '${property}' for queue '${def.name}' in vhost '${def.vhost}'`,
  );
}

/**
 * RabbitMQ's checks of a quorum queue's declaration, in its order: the arguments'
 * values, then arguments only other types take, then the properties a replicated
 * queue cannot have (auto-delete, exclusive, non-durable). Throws the 406 it sends.
 */
export function validateQuorumArguments(def: QueueDefinition): void {
  const args = def.arguments;
  for (const [key, check] of CHECKED_IN_ORDER) {
    const v = args.get(key);
    const problem = v && check(v);
    if (problem) throw invalidArgument(def, key, problem);
    // The dead-letter exchange and routing key come in declare_args/0 before the strategy.
    if (key === "x-message-ttl") checkDeadLetterArguments(def);
  }
  const limit = args.get("x-delivery-limit");
  const limitProblem = limit && anyInteger(limit);
  if (limitProblem) throw invalidArgument(def, "x-delivery-limit", limitProblem);
  for (const key of args.keys()) {
    if (OTHER_TYPES_ONLY.has(key)) throw otherTypesArgument(def, key, QUORUM_MODULE);
  }
  // rabbit_queue_type_util's checks, as rabbit_quorum_queue:declare/2 runs them.
  if (def.autoDelete) throw invalidProperty(def, "auto-delete");
  if (def.exclusive) throw invalidProperty(def, "exclusive-owner");
  if (!def.durable) throw invalidProperty(def, "non-durable");
}

export type LeaderLocator = "client-local" | "balanced";

/** RabbitMQ 4's delivery limit when neither argument nor policy sets one (DEFAULT_QUORUM_CONFIG's). */
export const DEFAULT_DELIVERY_LIMIT = 20;

/** A quorum queue's own settings, from its arguments and the policies that match it. */
export interface QuorumSettings {
  /**
   * Members to start with (x-quorum-initial-group-size); undefined: the node's default
   * (RabbitMQ's quorum_cluster_size, 3), never more than the cluster's nodes.
   */
  readonly initialGroupSize: number | undefined;
  /** Where the leader goes at declaration: the declaring client's node, or the least loaded. */
  readonly leaderLocator: LeaderLocator;
  /**
   * How it dead-letters: at-least-once only with a dead-letter exchange and overflow
   * reject-publish (RabbitMQ falls back to at-most-once otherwise, with a warning).
   */
  readonly deadLetterStrategy: DeadLetterStrategy;
  /** Quorum queues resolve overflow their own way: the policy wins, reject-publish-dlx is drop-head. */
  readonly overflow: "drop-head" | "reject-publish";
  /** Deliveries a message may have before it is dead-lettered or dropped; -1: unlimited. */
  readonly deliveryLimit: number;
}

function argNumber(args: FieldTable, key: string): number | undefined {
  const v: FieldValue | undefined = args.get(key);
  return v && "bBUsuIilL".includes(v.type) ? Number(v.value) : undefined;
}

function argString(args: FieldTable, key: string): string | undefined {
  const v = args.get(key);
  return v?.type === "S" || v?.type === "x" ? v.value.toString() : undefined;
}

function policyValue(p: PolicyLike | undefined, key: string): unknown {
  return p?.definition[key];
}

function policyString(p: PolicyLike | undefined, key: string): string | undefined {
  const v = policyValue(p, key);
  return typeof v === "string" ? v : undefined;
}

function policyInteger(p: PolicyLike | undefined, key: string): number | undefined {
  const v = policyValue(p, key);
  return Number.isInteger(v) ? (v as number) : undefined;
}

/**
 * RabbitMQ 4's delivery limits: a negative one is unlimited, and the lowest limit
 * set wins (rabbit_quorum_queue:resolve_delivery_limit/2); unlimited only when every
 * source that sets one says so; none set: 20.
 */
function resolveDeliveryLimit(values: readonly (number | undefined)[]): number {
  const set = values.filter((v): v is number => v !== undefined);
  if (set.length === 0) return DEFAULT_DELIVERY_LIMIT;
  const limits = set.filter((v) => v >= 0);
  return limits.length > 0 ? Math.min(...limits) : -1;
}

/** The deprecated locators (random, least-leaders, min-masters) are balanced; unknown: client-local. */
function leaderLocatorOf(value: string | undefined): LeaderLocator {
  if (value === "balanced" || value === "random" || value === "least-leaders") return "balanced";
  return value === "min-masters" ? "balanced" : "client-local";
}

/**
 * A quorum queue's settings as RabbitMQ 4 resolves them (gather_policy_config/2,
 * rabbit_queue_location:leader_locator/1): the policy wins for queue-leader-locator
 * and overflow; the argument wins for dead-letter-strategy; the lowest delivery limit
 * of argument, policy and operator policy wins. The limits shared with classic queues
 * (max-length, message-ttl, expires, dead-letter-exchange...) are resolveQueueSettings'.
 */
export function resolveQuorumSettings(
  args: FieldTable,
  policy?: PolicyLike,
  operatorPolicy?: PolicyLike,
): QuorumSettings {
  const overflowSet = policyString(policy, "overflow") ?? argString(args, "x-overflow");
  const overflow = overflowSet === "reject-publish" ? "reject-publish" : "drop-head";
  const strategy =
    argString(args, "x-dead-letter-strategy") ?? policyString(policy, "dead-letter-strategy");
  const hasDlx =
    argString(args, "x-dead-letter-exchange") !== undefined ||
    policyString(policy, "dead-letter-exchange") !== undefined;
  return {
    initialGroupSize: argNumber(args, "x-quorum-initial-group-size"),
    leaderLocator: leaderLocatorOf(
      policyString(policy, "queue-leader-locator") ?? argString(args, "x-queue-leader-locator"),
    ),
    deadLetterStrategy:
      strategy === "at-least-once" && hasDlx && overflow === "reject-publish"
        ? "at-least-once"
        : "at-most-once",
    overflow,
    deliveryLimit: resolveDeliveryLimit([
      argNumber(args, "x-delivery-limit"),
      policyInteger(policy, "delivery-limit"),
      policyInteger(operatorPolicy, "delivery-limit"),
    ]),
  };
}
