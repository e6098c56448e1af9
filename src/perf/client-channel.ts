import type { FieldTable } from "../protocol/field-table.js";
import { FrameType } from "../protocol/generated/constants.js";
import {
  type BasicDeliver,
  decodeMethodArgs,
  type Method,
  type MethodName,
  type QueueDeclareOk,
} from "../protocol/generated/methods.js";
import { Reader } from "../protocol/wire-reader.js";
import type { AmqpClient } from "./amqp-client.js";
import { ClientError, RpcQueue } from "./rpc-queue.js";

/** A message delivered to a consumer. Buffers are views valid only during the callback. */
export interface Delivery {
  readonly consumerTag: string;
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly properties: Buffer;
  readonly body: Buffer;
}

interface PendingContent {
  readonly method: BasicDeliver;
  properties: Buffer | undefined;
  bodySize: number;
  received: number;
  body: Buffer | undefined;
}

/** basic.deliver (60, 60), basic.ack (60, 80) and basic.nack (60, 120) as 32-bit method ids. */
const BASIC_DELIVER = (60 << 16) | 60;
const BASIC_ACK = (60 << 16) | 80;
const BASIC_NACK = (60 << 16) | 120;

/**
 * One channel of an AmqpClient: synchronous methods wait for their reply in order;
 * publishes, acks and deliveries take the short path (no promise per message).
 */
export class ClientChannel {
  /** Publisher confirms: (deliveryTag, multiple, nack). */
  onConfirm: ((deliveryTag: number, multiple: boolean, nack: boolean) => void) | undefined;
  /** The broker closed the channel or the connection, or cancelled a consumer. */
  onError: ((e: Error) => void) | undefined;
  /** The next publish sequence number once confirm.select is on (AMQP confirms start at 1). */
  nextPublishSeq = 0;
  private readonly rpc = new RpcQueue();
  private readonly consumers = new Map<string, (d: Delivery) => void>();
  private pending: PendingContent | undefined;
  private consumerCounter = 0;
  private closedWith: Error | undefined;

  constructor(
    private readonly client: AmqpClient,
    readonly id: number,
  ) {}

  async open(): Promise<void> {
    await this.call({ name: "channel.open" }, "channel.open-ok");
  }

  declareQueue(
    queue: string,
    options: { durable: boolean; exclusive?: boolean; autoDelete?: boolean; args?: FieldTable },
  ): Promise<QueueDeclareOk> {
    return this.call(
      {
        name: "queue.declare",
        queue,
        passive: false,
        durable: options.durable,
        exclusive: options.exclusive ?? false,
        autoDelete: options.autoDelete ?? false,
        noWait: false,
        arguments: options.args ?? new Map(),
      },
      "queue.declare-ok",
    ) as Promise<QueueDeclareOk>;
  }

  async declareExchange(exchange: string, type: string, durable: boolean): Promise<void> {
    await this.call(
      {
        name: "exchange.declare",
        exchange,
        type,
        passive: false,
        durable,
        autoDelete: false,
        internal: false,
        noWait: false,
        arguments: new Map(),
      },
      "exchange.declare-ok",
    );
  }

  async bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    await this.call(
      { name: "queue.bind", queue, exchange, routingKey, noWait: false, arguments: new Map() },
      "queue.bind-ok",
    );
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.call(
      { name: "queue.delete", queue, ifUnused: false, ifEmpty: false, noWait: false },
      "queue.delete-ok",
    );
  }

  async deleteExchange(exchange: string): Promise<void> {
    await this.call(
      { name: "exchange.delete", exchange, ifUnused: false, noWait: false },
      "exchange.delete-ok",
    );
  }

  async qos(prefetchCount: number): Promise<void> {
    await this.call(
      { name: "basic.qos", prefetchSize: 0, prefetchCount, global: false },
      "basic.qos-ok",
    );
  }

  async confirmSelect(): Promise<void> {
    await this.call({ name: "confirm.select", nowait: false }, "confirm.select-ok");
    this.nextPublishSeq = 1;
  }

  /**
   * Starts a consumer. The handler is registered under a tag chosen here before
   * basic.consume goes out, because deliveries can follow consume-ok in the same read.
   */
  async consume(queue: string, noAck: boolean, onDelivery: (d: Delivery) => void): Promise<string> {
    const consumerTag = `perf-${this.id}-${++this.consumerCounter}`;
    this.consumers.set(consumerTag, onDelivery);
    try {
      await this.call(
        {
          name: "basic.consume",
          queue,
          consumerTag,
          noLocal: false,
          noAck,
          exclusive: false,
          noWait: false,
          arguments: new Map(),
        },
        "basic.consume-ok",
      );
    } catch (e) {
      this.consumers.delete(consumerTag);
      throw e;
    }
    return consumerTag;
  }

  /** basic.publish with header and body; returns the confirm sequence number (0 without confirms). */
  publish(exchange: string, routingKey: string, properties: Buffer, body: Buffer): number {
    if (this.closedWith) throw this.closedWith;
    this.client.writer.content(
      this.id,
      { name: "basic.publish", exchange, routingKey, mandatory: false, immediate: false },
      properties,
      body,
    );
    this.client.scheduleFlush();
    return this.nextPublishSeq === 0 ? 0 : this.nextPublishSeq++;
  }

  ack(deliveryTag: number, multiple: boolean): void {
    this.client.send({ name: "basic.ack", deliveryTag, multiple }, this.id);
  }

  async close(): Promise<void> {
    if (this.closedWith) return;
    await this.call(
      { name: "channel.close", replyCode: 200, replyText: "Goodbye", classId: 0, methodId: 0 },
      "channel.close-ok",
    );
    this.shut(new ClientError("channel closed"));
  }

  /** A frame for this channel, from the connection's reader. */
  onFrame(type: number, payload: Buffer): void {
    if (type === FrameType.Method) this.onMethod(payload);
    else if (type === FrameType.Header) this.onHeader(payload);
    else if (type === FrameType.Body) this.onBody(payload);
  }

  connectionLost(e: Error): void {
    this.shut(e);
    this.onError?.(e);
  }

  private call(method: Method, reply: MethodName): Promise<Method> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const answer = this.rpc.wait(reply);
    this.client.send(method, this.id);
    return answer;
  }

  private onMethod(payload: Buffer): void {
    const r = new Reader(payload);
    const id = r.long();
    const method = decodeMethodArgs(id, r);
    if (!method) return;
    if (id === BASIC_DELIVER) {
      this.pending = {
        method: method as BasicDeliver,
        properties: undefined,
        bodySize: 0,
        received: 0,
        body: undefined,
      };
      return;
    }
    if (id === BASIC_ACK || id === BASIC_NACK) {
      const m = method as { deliveryTag: number; multiple: boolean };
      this.onConfirm?.(m.deliveryTag, m.multiple, id === BASIC_NACK);
      return;
    }
    switch (method.name) {
      case "channel.close": {
        this.client.send({ name: "channel.close-ok" }, this.id);
        const e = new ClientError(
          `channel ${this.id} closed by the broker: ${method.replyText}`,
          method.replyCode,
        );
        this.shut(e);
        this.onError?.(e);
        return;
      }
      case "basic.cancel":
        this.consumers.delete(method.consumerTag);
        this.onError?.(new ClientError(`consumer ${method.consumerTag} cancelled by the broker`));
        return;
      case "channel.flow":
        this.client.send({ name: "channel.flow-ok", active: method.active }, this.id);
        return;
      case "basic.return":
        // Publishes are not mandatory; a return would mean a broker bug. Skip its content.
        return;
      default:
        this.rpc.deliver(method);
    }
  }

  private onHeader(payload: Buffer): void {
    const p = this.pending;
    if (!p) return;
    // Content header: class id (2), weight (2), body size (8), then the properties.
    p.bodySize = payload.readUInt32BE(4) * 0x1_0000_0000 + payload.readUInt32BE(8);
    p.properties = payload.subarray(12);
    if (p.bodySize === 0) this.deliver(p, Buffer.alloc(0));
  }

  private onBody(payload: Buffer): void {
    const p = this.pending;
    if (!p) return;
    if (p.received === 0 && payload.length === p.bodySize) {
      this.deliver(p, payload);
      return;
    }
    p.body ??= Buffer.allocUnsafe(p.bodySize);
    payload.copy(p.body, p.received);
    p.received += payload.length;
    if (p.received >= p.bodySize) this.deliver(p, p.body);
  }

  private deliver(p: PendingContent, body: Buffer): void {
    this.pending = undefined;
    const handler = this.consumers.get(p.method.consumerTag);
    handler?.({
      consumerTag: p.method.consumerTag,
      deliveryTag: p.method.deliveryTag,
      redelivered: p.method.redelivered,
      properties: p.properties ?? Buffer.alloc(0),
      body,
    });
  }

  private shut(e: Error): void {
    if (this.closedWith) return;
    this.closedWith = e;
    this.rpc.failAll(e);
    this.client.releaseChannel(this.id);
  }
}
