import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type ConsumeRequest,
  decodeConsume,
  decodeCountsAnswer,
  decodeFrame,
  decodeGet,
  decodeGetAnswer,
  decodePublish,
  decodePublishAnswer,
  decodePurgeAnswer,
  decodeRefs,
  decodeResult,
  encodeConsume,
  encodeCountsAnswer,
  encodeFrame,
  encodeGet,
  encodeGetAnswer,
  encodePublish,
  encodePublishAnswer,
  encodePurgeAnswer,
  encodeRefs,
  encodeResult,
  FrameOp,
  type GetAnswer,
  type PublishAnswer,
  type QueueFrame,
  type QueueRef,
  type WireDelivery,
  type WireMessage,
} from "../../../../src/cluster/queues/queue-wire.js";
import { WireError } from "../../../../src/cluster/transport/wire-reader.js";

// Round trips compare plain data: decoded byte fields are Buffers, generated ones Uint8Arrays.
const plain = (value: unknown): unknown =>
  value === undefined
    ? undefined
    : JSON.parse(
        JSON.stringify(value, (_k, v) =>
          v instanceof Uint8Array || (v && v.type === "Buffer") ? [...Buffer.from(v.data ?? v)] : v,
        ),
      );

const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 64 });
const text = fc.string({ maxLength: 40 });

const ref: fc.Arbitrary<QueueRef> = fc.record({ vhost: text, name: text, storeId: u64 });

const message: fc.Arbitrary<WireMessage> = fc.record({
  exchange: text,
  routingKey: text,
  properties: bytes,
  body: bytes,
  arrivedAtMs: u64,
});

const delivery: fc.Arbitrary<WireDelivery> = fc.record({
  deliveryId: u32,
  redelivered: fc.boolean(),
  deliveryCount: u32,
  exchange: text,
  routingKey: text,
  properties: bytes,
  body: bytes,
});

const frame: fc.Arbitrary<QueueFrame> = fc.oneof(
  fc
    .tuple(u32, delivery)
    .map(([consumerId, d]) => ({ op: FrameOp.deliver, consumerId, ...d }) as QueueFrame),
  fc.record({ op: fc.constant(FrameOp.cancelled), consumerId: u32, reason: text }),
  fc.record({ op: fc.constant(FrameOp.credit), consumerId: u32, credit: u32 }),
  fc.record({
    op: fc.constant(FrameOp.settle),
    outcome: fc.constantFrom("ack" as const, "requeue" as const, "reject" as const),
    deliveryIds: fc.array(u32, { maxLength: 20 }),
  }),
  fc.record({ op: fc.constant(FrameOp.cancel), consumerId: u32 }),
  fc.tuple(text, message).map(([key, m]) => ({ op: FrameOp.reply, key, ...m }) as QueueFrame),
);

const consume: fc.Arbitrary<ConsumeRequest> = fc.record({
  consumerId: u32,
  queue: ref,
  tag: text,
  noAck: fc.boolean(),
  exclusive: fc.boolean(),
  priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  prefetchCount: u32,
  argumentsJson: text,
  credit: u32,
});

const wireError = fc.record({ code: u32, text });

const publishAnswer: fc.Arbitrary<PublishAnswer> = fc.oneof(
  fc.constant({ accepted: true } as const),
  fc.record({ accepted: fc.constant(false as const), reason: text, detail: text }),
);

const getAnswer: fc.Arbitrary<GetAnswer> = fc.oneof(
  fc.record({ kind: fc.constant("empty" as const), messageCount: u32 }),
  fc.record({ kind: fc.constant("delivery" as const), delivery, messageCount: u32 }),
  fc.record({ kind: fc.constant("error" as const), error: wireError }),
);

/** Every codec: an arbitrary of its values, its encoder and its decoder. */
const codecs: readonly {
  name: string;
  values: fc.Arbitrary<unknown>;
  encode: (v: never) => Buffer;
  decode: (b: Buffer) => unknown;
}[] = [
  { name: "queue frame", values: frame, encode: encodeFrame, decode: decodeFrame },
  {
    name: "publish",
    values: fc.record({ queues: fc.array(ref, { maxLength: 5 }), message }),
    encode: (v: { queues: QueueRef[]; message: WireMessage }) => encodePublish(v.queues, v.message),
    decode: decodePublish,
  },
  {
    name: "publish answer",
    values: publishAnswer,
    encode: encodePublishAnswer,
    decode: decodePublishAnswer,
  },
  { name: "consume", values: consume, encode: encodeConsume, decode: decodeConsume },
  {
    name: "result",
    values: fc.option(wireError, { nil: undefined }),
    encode: encodeResult,
    decode: decodeResult,
  },
  {
    name: "get",
    values: fc.record({ queue: ref, noAck: fc.boolean() }),
    encode: (v: { queue: QueueRef; noAck: boolean }) => encodeGet(v.queue, v.noAck),
    decode: decodeGet,
  },
  { name: "get answer", values: getAnswer, encode: encodeGetAnswer, decode: decodeGetAnswer },
  {
    name: "queue refs",
    values: fc.array(ref, { maxLength: 8 }),
    encode: encodeRefs,
    decode: decodeRefs,
  },
  {
    name: "purge answer",
    values: fc.oneof(fc.record({ count: u32 }), wireError),
    encode: encodePurgeAnswer,
    decode: decodePurgeAnswer,
  },
];

for (const codec of codecs) {
  test(`every ${codec.name} survives the round trip`, () => {
    fc.assert(
      fc.property(codec.values, (value) => {
        assert.deepEqual(plain(codec.decode(codec.encode(value as never))), plain(value));
      }),
      { numRuns: 300 },
    );
  });

  test(`a ${codec.name} cut short anywhere is refused with a WireError or RangeError`, () => {
    fc.assert(
      fc.property(codec.values, fc.nat(), (value, cut) => {
        const encoded = codec.encode(value as never);
        const truncated = encoded.subarray(0, cut % encoded.length);
        assert.throws(
          () => codec.decode(truncated),
          (e: unknown) => e instanceof WireError || e instanceof RangeError,
        );
      }),
      { numRuns: 300 },
    );
  });

  test(`a ${codec.name} with bytes added at its end is refused`, () => {
    fc.assert(
      fc.property(codec.values, fc.uint8Array({ minLength: 1, maxLength: 8 }), (value, extra) => {
        const padded = Buffer.concat([codec.encode(value as never), extra]);
        assert.throws(
          () => codec.decode(padded),
          (e: unknown) => e instanceof WireError || e instanceof RangeError,
        );
      }),
      { numRuns: 100 },
    );
  });

  test(`garbage given as a ${codec.name} is refused or decoded, never another error`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        try {
          codec.decode(Buffer.from(garbage));
        } catch (e) {
          assert.ok(e instanceof WireError || e instanceof RangeError, String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
}

test("a settle frame with an unknown outcome is refused", () => {
  const bytes = encodeFrame({ op: FrameOp.settle, outcome: "ack", deliveryIds: [1] });
  bytes[1] = 7;
  assert.throws(() => decodeFrame(bytes), RangeError);
});

test("an unknown frame op is refused", () => {
  assert.throws(() => decodeFrame(Buffer.from([99])), RangeError);
});

test("a counts answer survives the round trip, nulls for queues the home lacks included", () => {
  const stats = [{ messagesReady: 3, consumers: 1 }, null];
  assert.deepEqual(decodeCountsAnswer(encodeCountsAnswer(stats)), stats);
});

test("a counts answer cut short is refused with a RangeError, as every other answer is", () => {
  // The answer is JSON: a parse error must come out as the RangeError callers expect.
  const bytes = encodeCountsAnswer([{ messagesReady: 3 }]);
  assert.throws(
    () => decodeCountsAnswer(bytes.subarray(0, bytes.length - 2)),
    (e: unknown) => e instanceof WireError || e instanceof RangeError,
  );
});
