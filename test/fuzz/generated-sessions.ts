import fc from "fast-check";
import { encodeProperties } from "../../src/protocol/content-properties.js";
import { FrameWriter } from "../../src/protocol/frame-writer.js";
import { PROTOCOL_HEADER } from "../../src/protocol/generated/constants.js";
import type { Method } from "../../src/protocol/generated/methods.js";
import { basicProperties, fieldValue } from "../support/field-arbitraries.js";
import { METHOD_ARBITRARIES } from "../support/method-arbitraries.js";

/**
 * Sessions built by fast-check from the spec: a valid handshake, then a run of
 * commands drawn from every method the server receives (names and arguments biased
 * towards a few queues, exchanges and the x-arguments the broker understands, so
 * commands meet each other), publishes with any properties and sometimes a body
 * that does not match its header, and the odd raw frame of any type.
 */

const NAMES = [
  "",
  "q1",
  "q2",
  "x1",
  "amq.direct",
  "amq.fanout",
  "amq.topic",
  "amq.headers",
  "amq.rabbitmq.reply-to",
];
const X_ARGS = [
  "x-message-ttl",
  "x-expires",
  "x-max-length",
  "x-max-length-bytes",
  "x-overflow",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-priority",
  "x-single-active-consumer",
  "x-delivery-limit",
  "x-queue-type",
  "x-priority",
  "x-consumer-timeout",
  "alternate-exchange",
  "x-delayed-type",
  "x-match",
  "x-cancel-on-ha-failover",
  "__proto__",
  "constructor",
];
const smallValue = fc.oneof(
  fieldValue,
  fc.integer({ min: -2, max: 2000 }).map((value) => ({ type: "I", value }) as const),
  fc
    .constantFrom(
      "drop-head",
      "reject-publish",
      "reject-publish-dlx",
      "quorum",
      "classic",
      "stream",
      "all",
      "direct",
      "x1",
      "q2",
    )
    .map((value) => ({ type: "S", value: Buffer.from(value) }) as const),
);
const knownArguments = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...X_ARGS), smallValue), {
    maxLength: 4,
    selector: ([k]) => k,
  })
  .map((entries) => new Map(entries));

const NAME_FIELDS = [
  "queue",
  "exchange",
  "destination",
  "source",
  "routingKey",
  "alternateExchange",
  "type",
];
const EXCHANGE_TYPES = [
  "direct",
  "fanout",
  "topic",
  "headers",
  "x-consistent-hash",
  "x-delayed-message",
  "toString",
];

const serverMethod: fc.Arbitrary<Method> = fc
  .tuple(
    fc.oneof(...METHOD_ARBITRARIES.filter((m) => m.serverReceives).map((m) => m.arb)),
    fc.constantFrom(...NAMES),
    fc.constantFrom(...EXCHANGE_TYPES),
    knownArguments,
    fc.boolean(),
  )
  .map(([method, name, type, args, bias]) => {
    if (!bias) return method;
    const m = { ...method } as Record<string, unknown>;
    for (const f of NAME_FIELDS) if (f in m) m[f] = f === "type" ? type : name;
    if ("arguments" in m) m.arguments = args;
    return m as unknown as Method;
  });

const channel = fc.oneof(
  { weight: 6, arbitrary: fc.constant(1) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);

type Step =
  | { kind: "method"; channel: number; method: Method }
  | {
      kind: "publish";
      channel: number;
      exchange: string;
      routingKey: string;
      props: Parameters<typeof encodeProperties>[0];
      body: Uint8Array;
      sizeDelta: number;
    }
  | { kind: "raw"; type: number; channel: number; payload: Uint8Array };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("method" as const), channel, method: serverMethod }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("method" as const),
      channel: fc.integer({ min: 1, max: 3 }),
      method: fc.constant({ name: "channel.open" } as Method),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("publish" as const),
      channel,
      exchange: fc.constantFrom(...NAMES),
      routingKey: fc.constantFrom(...NAMES),
      props: basicProperties,
      body: fc.uint8Array({ maxLength: 300 }),
      sizeDelta: fc.oneof(
        { weight: 8, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      type: fc.integer({ min: 0, max: 9 }),
      channel,
      payload: fc.uint8Array({ maxLength: 64 }),
    }),
  },
);

function encode(steps: readonly Step[], frameMax: number, user: string): Buffer {
  const w = new FrameWriter(1 << 20);
  w.raw(PROTOCOL_HEADER);
  w.method(0, {
    name: "connection.start-ok",
    clientProperties: new Map(),
    mechanism: "PLAIN",
    response: Buffer.from(`\0${user}\0${user}`),
    locale: "en_US",
  });
  w.method(0, { name: "connection.tune-ok", channelMax: 16, frameMax, heartbeat: 0 });
  w.method(0, { name: "connection.open", virtualHost: "/" });
  w.method(1, { name: "channel.open" });
  const out = [...w.take()];
  for (const s of steps) {
    if (s.kind === "method") {
      w.method(s.channel, s.method);
    } else if (s.kind === "publish") {
      const publish = {
        name: "basic.publish",
        exchange: s.exchange,
        routingKey: s.routingKey,
        mandatory: true,
        immediate: false,
      } as const;
      w.method(s.channel, publish);
      const props = encodeProperties(s.props);
      const header = Buffer.alloc(7 + 12 + props.length + 1);
      header[0] = 2;
      header.writeUInt16BE(s.channel, 1);
      header.writeUInt32BE(12 + props.length, 3);
      header.writeUInt16BE(60, 7);
      header.writeBigUInt64BE(BigInt(Math.max(0, s.body.length + s.sizeDelta)), 11);
      props.copy(header, 19);
      header[header.length - 1] = 0xce;
      out.push(...w.take(), header);
      if (s.body.length) out.push(rawFrame(3, s.channel, s.body));
      continue;
    } else {
      out.push(...w.take(), rawFrame(s.type, s.channel, s.payload));
      continue;
    }
    out.push(...w.take());
  }
  return Buffer.concat(out);
}

function rawFrame(type: number, channel: number, payload: Uint8Array): Buffer {
  const f = Buffer.alloc(8 + payload.length);
  f[0] = type;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(payload.length, 3);
  f.set(payload, 7);
  f[f.length - 1] = 0xce;
  return f;
}

/** A whole client session as bytes, from the protocol header on. */
export const generatedSession: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.array(step, { minLength: 1, maxLength: 25 }),
    fc.constantFrom(4096, 8192, 131072),
    // guest may do anything; "limited" (see FuzzTarget) only a little.
    fc.constantFrom("guest", "guest", "limited"),
  )
  .map(([steps, frameMax, user]) => encode(steps, frameMax, user));
