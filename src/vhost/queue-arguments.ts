import type { FieldValue } from "../protocol/field-table.js";
import { TYPE_NAMES } from "../protocol/field-value-text.js";
import {
  ARGUMENT_CHECKS,
  type ArgumentCheck,
  checkDeadLetterArguments,
  invalidArgument,
  otherTypesArgument,
  textOf,
} from "../queue/queue-argument-checks.js";
import type { QueueDefinition, QueueType } from "../queue/queue-type.js";
import { queueTypeName } from "../queue/queue-types.js";
import { validateQuorumArguments } from "../quorum/quorum-arguments.js";

/** The queue types a node runs, by name (QueueTypes). */
export interface KnownQueueTypes {
  get(name: string): QueueType | undefined;
}

const CLASSIC: QueueType = {
  name: "classic",
  create: () => {
    throw new Error("only for argument checks");
  },
};
/** Without a node's registry: classic queues only. */
export const CLASSIC_ONLY: KnownQueueTypes = {
  get: (name) => (name === "classic" ? CLASSIC : undefined),
};
/**
 * Arguments that only other queue types accept (quorum queues and streams): RabbitMQ
 * refuses them on classic queues (rabbit_amqqueue:check_arguments_key).
 */
const OTHER_TYPES_ONLY = new Set([
  "x-max-age",
  "x-stream-max-segment-size-bytes",
  "x-stream-filter-size-bytes",
  "x-initial-cluster-size",
  "x-quorum-initial-group-size",
  "x-dead-letter-strategy",
  "x-max-in-memory-length",
  "x-max-in-memory-bytes",
]);

/** The arguments whose values a classic queue checks. */
const CLASSIC_CHECKED = [
  "x-message-ttl",
  "x-expires",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-delivery-limit",
  "x-consumer-timeout",
  "x-retry-delay",
  "x-retry-delay-max",
  "x-overflow",
  "x-queue-mode",
  "x-single-active-consumer",
];
const CHECKS: Record<string, ArgumentCheck> = Object.fromEntries(
  CLASSIC_CHECKED.map((k) => [k, ARGUMENT_CHECKS[k]!]),
);

/**
 * RabbitMQ's checks of a declaration's arguments. A queue type with rules of its
 * own applies them (a registered quorum type: quorum/quorum-arguments.ts, even when it
 * names no rules); the others (classic, and a type this node does not run, which is
 * refused when its x-queue-type comes up) get the classic queue's rules.
 */
export function validateQueueArguments(
  def: QueueDefinition,
  types: KnownQueueTypes = CLASSIC_ONLY,
): void {
  const type = types.get(queueTypeName(def));
  const ownRules =
    type?.validateArguments ?? (type?.name === "quorum" ? validateQuorumArguments : undefined);
  if (ownRules) {
    ownRules.call(type, def);
    return;
  }
  const args = def.arguments;
  const knownType = (v: FieldValue) => {
    const s = textOf(v);
    return s !== undefined && types.get(s)
      ? undefined
      : `"unsupported queue type '${s ?? TYPE_NAMES[v.type]}'"`;
  };
  for (const [key, value] of args) {
    if (OTHER_TYPES_ONLY.has(key)) throw otherTypesArgument(def, key, "rabbit_classic_queue");
    // Own keys only: a client's "constructor" or "__proto__" is an unknown argument.
    const check =
      key === "x-queue-type" ? knownType : Object.hasOwn(CHECKS, key) ? CHECKS[key] : undefined;
    const problem = check?.(value);
    if (problem) throw invalidArgument(def, key, problem);
  }
  checkDeadLetterArguments(def);
}
