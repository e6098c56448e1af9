import { encodeMethod, type Method } from "../../protocol/generated/methods.js";
import { Writer } from "../../protocol/wire-writer.js";

/** Short-string arguments in the words of the HTTP API, for a refusal's text. */
const ARGUMENT_NAMES: Readonly<Record<string, string>> = {
  queue: "queue name",
  exchange: "exchange name",
  routingKey: "routing key",
  source: "source exchange name",
  destination: "destination name",
  type: "exchange type",
};

/**
 * Why a method could not travel in an AMQP frame, if it could not: RabbitMQ's
 * SYNTAX_ERROR text. A client's commands arrive as frames, so a name or routing key
 * is never over 255 bytes; the HTTP API's come from JSON and could be. The broker
 * must not take in what it could not send back: a queue it cannot name in a
 * declare-ok, or a routing key no basic.deliver to a consumer can carry.
 */
export function unencodable(method: Method): string | undefined {
  try {
    encodeMethod(new Writer(64), method);
    return undefined;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const long = Object.entries(method).find(
      ([, v]) => typeof v === "string" && Buffer.byteLength(v) > 255,
    );
    const text = long
      ? `${ARGUMENT_NAMES[long[0]] ?? long[0]} is longer than 255 bytes`
      : `${method.name} cannot be sent in an AMQP frame: ${e.message}`;
    return `SYNTAX_ERROR - ${text}`;
  }
}
