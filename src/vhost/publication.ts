import type { Message } from "../message/message.js";
import { channelError } from "../protocol/amqp-error.js";
import {
  editProperties,
  type PropertySummary,
  readHeaders,
  summarizeProperties,
} from "../protocol/content-properties.js";
import type { FieldTable } from "../protocol/field-table.js";
import { TYPE_NAMES } from "../protocol/field-value-text.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { RoutingInput } from "../routing/binding.js";
import type { Exchange } from "../routing/exchange.js";

const NO_KEYS: readonly string[] = [];

/**
 * A message's headers table, decoded at most once whoever asks first (topic
 * permissions on CC/BCC keys, x-delay, sender-selected distribution, a headers
 * exchange, removing BCC).
 */
export class MessageHeaders {
  private table: FieldTable | undefined;
  private cc: readonly string[] | undefined;

  constructor(
    private readonly properties: Buffer,
    private readonly summary: PropertySummary,
  ) {}

  /** The headers table (empty when there is none); decoded on first use. */
  get(): FieldTable {
    this.table ??= readHeaders(this.properties, this.summary);
    return this.table;
  }

  get present(): boolean {
    return this.summary.headersStart >= 0;
  }

  /**
   * The routing keys of RabbitMQ's sender-selected distribution (the CC and BCC
   * headers); a CC or BCC that is not an array is 406 in RabbitMQ's words.
   */
  ccKeys(): readonly string[] {
    if (this.cc) return this.cc;
    if (!this.present) return NO_KEYS;
    const headers = this.get();
    const keys: string[] = [];
    for (const name of ["CC", "BCC"]) {
      const v = headers.get(name);
      if (!v) continue;
      if (v.type !== "A") {
        throw channelError(
          ReplyCode.PRECONDITION_FAILED,
          `invalid message: {unacceptable_type_in_header,"${name}",${TYPE_NAMES[v.type]}}`,
        );
      }
      for (const item of v.value) if (item.type === "S") keys.push(item.value.toString());
    }
    this.cc = keys;
    return keys;
  }
}

/**
 * A publish that passed its checks: the exchange it goes to, its message and the
 * message's headers. Routing it may wait for tx.commit.
 */
export class Publication {
  constructor(
    readonly exchange: Exchange,
    readonly message: Message,
    readonly mandatory: boolean,
    /** Decoded from the properties as published; direct reply-to's edit leaves the table as it was. */
    readonly headers: MessageHeaders,
  ) {}

  /** What an exchange type routes by: this key, with the headers table for headers exchanges. */
  routingInput(routingKey: string): RoutingInput {
    return { routingKey, headers: () => this.headers.get() };
  }

  /** The message as queues get it: RabbitMQ removes the BCC header so recipients cannot see it. */
  withoutBcc(): Message {
    const message = this.message;
    if (!this.headers.present || !this.headers.get().has("BCC")) return message;
    const headers = new Map(this.headers.get());
    headers.delete("BCC");
    const properties = editProperties(message.properties, { headers });
    return { ...message, properties, summary: summarizeProperties(properties) };
  }
}
