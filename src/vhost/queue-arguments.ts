import { channelError } from "../protocol/amqp-error.js";
import type { FieldValue } from "../protocol/field-table.js";
import { TYPE_NAMES } from "../protocol/field-value-text.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { QueueDefinition, QueueType } from "../queue/queue-type.js";
import { queueTypeName } from "../queue/queue-types.js";

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
/** Arguments that only other queue types accept (RabbitMQ refuses them on classic queues). */
const OTHER_TYPES_ONLY = new Set([
  "x-max-age",
  "x-stream-max-segment-size-bytes",
  "x-initial-cluster-size",
  "x-quorum-initial-group-size",
]);
/** RabbitMQ caps TTLs at ten years, in milliseconds. */
const MAX_EXPIRY_MS = 315_360_000_000;

type Check = (v: FieldValue) => string | undefined;

function invalid(def: QueueDefinition, key: string, detail: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid arg '${key}' for queue '${def.name}' in vhost '${def.vhost}': ${detail}`,
  );
}

const isInteger = (v: FieldValue) => "bBUsuIilL".includes(v.type);
const text = (v: FieldValue) => (v.type === "S" || v.type === "x" ? v.value.toString() : undefined);

function integer(min: number, max = Number.POSITIVE_INFINITY, overMax = "value_too_large"): Check {
  return (v) => {
    if (!isInteger(v)) return `"expected integer, got ${TYPE_NAMES[v.type]}"`;
    const n = Number(v.value);
    if (n < 0) return `{value_negative,${n}}`;
    if (n < min) return `{value_zero,${n}}`;
    if (n > max) return `{${overMax},${n}}`;
    return undefined;
  };
}

function oneOf(values: string[], error: (s: string) => string): Check {
  return (v) => {
    const s = text(v);
    return s !== undefined && values.includes(s) ? undefined : error(s ?? TYPE_NAMES[v.type]);
  };
}

/** The x-arguments RabbitMQ validates at declaration, with the error shapes it reports. */
const CHECKS: Record<string, Check> = {
  "x-message-ttl": integer(0, MAX_EXPIRY_MS),
  "x-expires": integer(1, MAX_EXPIRY_MS),
  "x-max-length": integer(0),
  "x-max-length-bytes": integer(0),
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
};

/**
 * RabbitMQ's checks of a declaration's arguments. A queue type with rules of its
 * own applies them; the others (classic, and a type this node does not run, which
 * is refused when its x-queue-type comes up) get the classic queue's rules.
 */
export function validateQueueArguments(
  def: QueueDefinition,
  types: KnownQueueTypes = CLASSIC_ONLY,
): void {
  const type = types.get(queueTypeName(def));
  if (type?.validateArguments) {
    type.validateArguments(def);
    return;
  }
  const args = def.arguments;
  const knownType = (v: FieldValue) => {
    const s = text(v);
    return s !== undefined && types.get(s)
      ? undefined
      : `"unsupported queue type '${s ?? TYPE_NAMES[v.type]}'"`;
  };
  for (const [key, value] of args) {
    if (OTHER_TYPES_ONLY.has(key)) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `invalid arg '${key}' for queue '${def.name}' in vhost '${def.vhost}' of queue type rabbit_classic_queue`,
      );
    }
    // Own keys only: a client's "constructor" or "__proto__" is an unknown argument.
    const check =
      key === "x-queue-type" ? knownType : Object.hasOwn(CHECKS, key) ? CHECKS[key] : undefined;
    const problem = check?.(value);
    if (problem) throw invalid(def, key, problem);
  }
  for (const key of ["x-dead-letter-exchange", "x-dead-letter-routing-key"]) {
    const v = args.get(key);
    if (v && text(v) === undefined) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `invalid type '${TYPE_NAMES[v.type]}' for arg '${key}' in queue '${def.name}' in vhost '${def.vhost}'`,
      );
    }
    // A dead-lettered message's exchange and routing key go out in basic.deliver as
    // short strings: a longer one would fail the delivery to the consumer.
    const bytes = v ? Buffer.byteLength(text(v)!) : 0;
    if (bytes > 255) throw invalid(def, key, `"longer than 255 bytes (${bytes})"`);
  }
  if (args.has("x-dead-letter-routing-key") && !args.has("x-dead-letter-exchange")) {
    throw invalid(def, "x-dead-letter-routing-key", "routing_key_but_no_dlx_defined");
  }
}
