import { channelError } from "../protocol/amqp-error.js";
import type { FieldValue } from "../protocol/field-table.js";
import { TYPE_NAMES } from "../protocol/field-value-text.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { QueueDefinition } from "./queue-type.js";

/*
 * The value checks RabbitMQ applies to a queue.declare's x-arguments
 * (rabbit_amqqueue:declare_args/0), shared by every queue type: each type says which
 * arguments it accepts, and the checks of those run (vhost/queue-arguments.ts for
 * classic queues, quorum/quorum-arguments.ts for quorum queues).
 */

/** A problem with one argument's value, in RabbitMQ's Erlang-term words; none: fine. */
export type ArgumentCheck = (v: FieldValue) => string | undefined;

/** RabbitMQ caps TTLs at ten years, in milliseconds. */
const MAX_EXPIRY_MS = 315_360_000_000;

/** RabbitMQ's 406 for an argument whose value it refuses. */
export function invalidArgument(def: QueueDefinition, key: string, detail: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid arg '${key}' for queue '${def.name}' in vhost '${def.vhost}': ${detail}`,
  );
}

/** RabbitMQ's 406 for an argument only other queue types accept (check_arguments_key). */
export function otherTypesArgument(def: QueueDefinition, key: string, typeModule: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid arg '${key}' for queue '${def.name}' in vhost '${def.vhost}' of queue type ${typeModule}`,
  );
}

export const isIntegerValue = (v: FieldValue) => "bBUsuIilL".includes(v.type);
export const textOf = (v: FieldValue) =>
  v.type === "S" || v.type === "x" ? v.value.toString() : undefined;

const notInteger = (v: FieldValue) => `"expected integer, got ${TYPE_NAMES[v.type]}"`;

export function integer(
  min: number,
  max = Number.POSITIVE_INFINITY,
  overMax = "value_too_large",
): ArgumentCheck {
  return (v) => {
    if (!isIntegerValue(v)) return notInteger(v);
    const n = Number(v.value);
    if (n < 0) return `{value_negative,${n}}`;
    if (n < min) return `{value_zero,${n}}`;
    if (n > max) return `{${overMax},${n}}`;
    return undefined;
  };
}

/** Any integer, negative ones included (a quorum queue's x-delivery-limit: -1 is unlimited). */
export const anyInteger: ArgumentCheck = (v) => (isIntegerValue(v) ? undefined : notInteger(v));

export function oneOf(values: readonly string[], error: (s: string) => string): ArgumentCheck {
  return (v) => {
    const s = textOf(v);
    return s !== undefined && values.includes(s) ? undefined : error(s ?? TYPE_NAMES[v.type]);
  };
}

/** One of some words; another word is `invalid`, another type {unacceptable_type,T}. */
function word(values: readonly string[], invalid: string): ArgumentCheck {
  return (v) => {
    const s = textOf(v);
    if (s === undefined) return `{unacceptable_type,${TYPE_NAMES[v.type]}}`;
    return values.includes(s) ? undefined : invalid;
  };
}

/** RabbitMQ's queue leader locators; the last three are deprecated names of balanced. */
export const LEADER_LOCATORS = [
  "client-local",
  "balanced",
  "random",
  "least-leaders",
  "min-masters",
] as const;

/** The x-arguments RabbitMQ validates at declaration, with the error shapes it reports. */
export const ARGUMENT_CHECKS: Readonly<Record<string, ArgumentCheck>> = {
  "x-message-ttl": integer(0, MAX_EXPIRY_MS),
  "x-expires": integer(1, MAX_EXPIRY_MS),
  "x-max-length": integer(0),
  "x-max-length-bytes": integer(0),
  "x-max-in-memory-length": integer(0),
  "x-max-in-memory-bytes": integer(0),
  "x-max-priority": integer(0, 255, "max_value_exceeded"),
  "x-delivery-limit": integer(0),
  "x-consumer-timeout": integer(0),
  "x-retry-delay": integer(0),
  "x-retry-delay-max": integer(0),
  "x-overflow": oneOf(
    ["drop-head", "reject-publish", "reject-publish-dlx"],
    () => "invalid_overflow",
  ),
  "x-queue-mode": oneOf(["default", "lazy"], (s) => `"unsupported queue mode '${s}'"`),
  "x-single-active-consumer": (v) =>
    v.type === "t" ? undefined : `{unacceptable_type,${TYPE_NAMES[v.type]}}`,
  "x-dead-letter-strategy": word(["at-most-once", "at-least-once"], "invalid_dlx_strategy"),
  "x-quorum-initial-group-size": integer(1),
  "x-queue-leader-locator": word(LEADER_LOCATORS, "invalid_queue_locator_arg"),
};

/**
 * The dead-letter exchange and routing key: strings (rabbit_channel's check, its own
 * text) that fit basic.deliver's short strings, and no routing key without an exchange.
 */
export function checkDeadLetterArguments(def: QueueDefinition): void {
  const args = def.arguments;
  for (const key of ["x-dead-letter-exchange", "x-dead-letter-routing-key"]) {
    const v = args.get(key);
    if (v && textOf(v) === undefined) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `invalid type '${TYPE_NAMES[v.type]}' for arg '${key}' in queue '${def.name}' in vhost '${def.vhost}'`,
      );
    }
    // A dead-lettered message's exchange and routing key go out in basic.deliver as
    // short strings: a longer one would fail the delivery to the consumer.
    const bytes = v ? Buffer.byteLength(textOf(v)!) : 0;
    if (bytes > 255) throw invalidArgument(def, key, `"longer than 255 bytes (${bytes})"`);
  }
  if (args.has("x-dead-letter-routing-key") && !args.has("x-dead-letter-exchange")) {
    throw invalidArgument(def, "x-dead-letter-routing-key", "routing_key_but_no_dlx_defined");
  }
}
