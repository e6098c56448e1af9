import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable, FieldValue } from "../protocol/field-table.js";
import { describeValue, TYPE_NAMES } from "../protocol/field-value-text.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { QueueDefinition } from "../queue/queue-type.js";
import { queueTypeName } from "../queue/queue-types.js";
import { QUORUM_QUEUE_ARGUMENTS } from "../quorum/quorum-arguments.js";
import { fieldValuesEqual } from "../routing/binding.js";
import type { ExchangeDefinition } from "../routing/exchange.js";

/** Queue arguments that must match on redeclaration (others are accepted as they come, as in RabbitMQ). */
const COMPARED_QUEUE_ARGS = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-overflow",
  "x-queue-mode",
  "x-queue-type",
  "x-single-active-consumer",
  "x-delivery-limit",
  "x-queue-leader-locator",
  "x-queue-master-locator",
];

/**
 * A quorum queue's accepted arguments are compared (RabbitMQ 4 compares the queue
 * type's own arguments): x-dead-letter-strategy and x-quorum-initial-group-size too.
 */
const COMPARED_QUORUM_ARGS = [...QUORUM_QUEUE_ARGUMENTS].filter((k) => k !== "x-consumer-timeout");

const COMPARED_EXCHANGE_ARGS = ["alternate-exchange"];

function inequivalent(what: string, name: string, vhost: string, key: string, detail: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `inequivalent arg '${key}' for ${what} '${name}' in vhost '${vhost}': ${detail}`,
  );
}

function assertFlag(
  what: string,
  name: string,
  vhost: string,
  key: string,
  current: boolean,
  received: boolean,
) {
  if (current !== received) {
    throw inequivalent(
      what,
      name,
      vhost,
      key,
      `received '${received}' but current is '${current}'`,
    );
  }
}

function assertArgs(
  what: string,
  name: string,
  vhost: string,
  keys: string[],
  current: FieldTable,
  received: FieldTable,
) {
  for (const key of keys) {
    const a = current.get(key);
    const b = received.get(key);
    if (a === undefined && b === undefined) continue;
    if (a !== undefined && b !== undefined && sameClass(a, b) && fieldValuesEqual(a, b)) continue;
    if (key === "x-queue-type" && classicByDefault(a, b)) continue;
    // RabbitMQ's rabbit_misc:val/1: bare values when both sides have one, the typed
    // form when only one side does.
    const both = a !== undefined && b !== undefined;
    const show = (v: FieldValue | undefined) =>
      v === undefined
        ? "none"
        : both
          ? `'${describeValue(v)}'`
          : `the value '${describeValue(v)}' of type '${TYPE_NAMES[v.type]}'`;
    const got = show(b);
    const cur = show(a);
    throw inequivalent(what, name, vhost, key, `received ${got} but current is ${cur}`);
  }
}

/**
 * A classic queue need not carry x-queue-type: none and 'classic' are the same
 * (rabbit_misc:assert_field_equivalence/4, rabbitmq-common#341).
 */
function classicByDefault(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  const isClassic = (v: FieldValue | undefined) =>
    v?.type === "S" && v.value.toString() === "classic";
  return (a === undefined && isClassic(b)) || (b === undefined && isClassic(a));
}

/** RabbitMQ compares argument types by class: every integer width is one class. */
function sameClass(a: FieldValue, b: FieldValue): boolean {
  const cls = (v: FieldValue) =>
    "bBUsuIilL".includes(v.type) ? "int" : v.type === "x" ? "S" : v.type;
  return cls(a) === cls(b);
}

export function assertQueueEquivalent(current: QueueDefinition, received: QueueDefinition): void {
  const { name, vhost } = current;
  // An exclusive queue is never durable (RabbitMQ stores it as transient), so its
  // durable flag is not compared.
  if (!current.exclusive)
    assertFlag("queue", name, vhost, "durable", current.durable, received.durable);
  assertFlag("queue", name, vhost, "auto_delete", current.autoDelete, received.autoDelete);
  const compared = queueTypeName(current) === "quorum" ? COMPARED_QUORUM_ARGS : COMPARED_QUEUE_ARGS;
  assertArgs("queue", name, vhost, compared, current.arguments, received.arguments);
}

export function assertExchangeEquivalent(
  current: ExchangeDefinition,
  received: ExchangeDefinition,
): void {
  const { name, vhost } = current;
  if (current.type !== received.type) {
    throw inequivalent(
      "exchange",
      name,
      vhost,
      "type",
      `received '${received.type}' but current is '${current.type}'`,
    );
  }
  assertFlag("exchange", name, vhost, "durable", current.durable, received.durable);
  assertFlag("exchange", name, vhost, "auto_delete", current.autoDelete, received.autoDelete);
  assertFlag("exchange", name, vhost, "internal", current.internal, received.internal);
  assertArgs(
    "exchange",
    name,
    vhost,
    COMPARED_EXCHANGE_ARGS,
    current.arguments,
    received.arguments,
  );
}
