import { channelError } from "../../protocol/amqp-error.js";
import type { FieldValue } from "../../protocol/field-table.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { QueueDefinition } from "../../queue/message-queue.js";
import { describeValue } from "../../vhost/equivalence.js";

/** Queue types this node can create. */
const QUEUE_TYPES = new Set(["classic"]);

function invalid(def: QueueDefinition, key: string, detail: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid arg '${key}' for queue '${def.name}' in vhost '${def.vhost}': ${detail}`,
  );
}

function isInteger(v: FieldValue): v is Extract<FieldValue, { value: number | bigint }> {
  return "bBUsuIilL".includes(v.type);
}

/** Validates the x-arguments RabbitMQ validates at declaration, with its error shapes. */
export function validateQueueArguments(def: QueueDefinition): void {
  const type = def.arguments.get("x-queue-type");
  if (type) {
    const name = type.type === "S" ? type.value.toString() : describeValue(type);
    if (!QUEUE_TYPES.has(name)) {
      throw invalid(def, "x-queue-type", `{unsupported_queue_type,<<"${name}">>}`);
    }
  }
  for (const key of [
    "x-message-ttl",
    "x-expires",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-delivery-limit",
  ]) {
    const v = def.arguments.get(key);
    if (!v) continue;
    if (!isInteger(v)) throw invalid(def, key, `{unacceptable_type,${v.type}}`);
    const n = Number(v.value);
    const min = key === "x-expires" ? 1 : 0;
    if (n < min) throw invalid(def, key, n < 0 ? `{value_negative,${n}}` : `{value_zero,${n}}`);
  }
}
