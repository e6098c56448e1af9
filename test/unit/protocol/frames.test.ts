import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AmqpError } from "../../../src/protocol/amqp-error.js";
import {
  type Command,
  CommandAssembler,
  ContentError,
} from "../../../src/protocol/command-assembler.js";
import {
  decodeProperties,
  encodeProperties,
  summarizeProperties,
} from "../../../src/protocol/content-properties.js";
import { FrameReader } from "../../../src/protocol/frame-reader.js";
import { FrameWriter } from "../../../src/protocol/frame-writer.js";
import { PROTOCOL_HEADER } from "../../../src/protocol/generated/constants.js";
import { basicProperties } from "../../support/field-arbitraries.js";

const properties = basicProperties;

function feed(bytes: Buffer, step: number, frameMax = 1 << 20): Command[] {
  const got: Command[] = [];
  const assembler = new CommandAssembler({ maxMessageBytes: 1 << 24 });
  const reader = new FrameReader(
    {
      onFrame: (type, ch, payload) => {
        const cmd = assembler.frame(type, ch, payload);
        if (cmd) got.push(cmd);
      },
    },
    () => {},
    frameMax,
  );
  for (let at = 0; at < bytes.length; at += step) reader.push(bytes.subarray(at, at + step));
  return got;
}

function publishBytes(props: Buffer, body: Buffer, frameMax: number): Buffer {
  const w = new FrameWriter(frameMax);
  w.raw(PROTOCOL_HEADER);
  // The writer's content() is for server-to-client methods; the layout is the same for publish.
  w.content(
    1,
    { name: "basic.publish", exchange: "x", routingKey: "k", mandatory: false, immediate: false },
    props,
    body,
  );
  return Buffer.concat(w.take());
}

test("content properties of every kind round-trip through their encoding", () => {
  fc.assert(
    fc.property(properties, (p) => {
      assert.deepEqual(decodeProperties(encodeProperties(p)), p);
    }),
    { numRuns: 300 },
  );
});

test("the property summary agrees with a full decode", () => {
  fc.assert(
    fc.property(properties, (p) => {
      const s = summarizeProperties(encodeProperties(p));
      assert.equal(s.deliveryMode, p.deliveryMode ?? 0);
      assert.equal(s.priority, p.priority ?? 0);
      assert.equal(s.expiration, p.expiration);
      assert.equal(s.userId, p.userId);
      assert.equal(s.replyTo, p.replyTo);
      assert.equal(s.headersStart >= 0, p.headers !== undefined);
    }),
    { numRuns: 300 },
  );
});

test("a message split into body frames by frame_max reassembles byte for byte", () => {
  fc.assert(
    fc.property(
      properties,
      fc.uint8Array({ maxLength: 40000 }),
      fc.integer({ min: 4096, max: 20000 }),
      fc.integer({ min: 1, max: 9000 }),
      (p, body, frameMax, step) => {
        const raw = encodeProperties(p);
        const cmds = feed(publishBytes(raw, Buffer.from(body), frameMax), step, frameMax);
        assert.equal(cmds.length, 1);
        assert.deepEqual(cmds[0]!.properties, raw);
        assert.deepEqual(cmds[0]!.body, Buffer.from(body));
      },
    ),
    { numRuns: 60 },
  );
});

function errorOf(fn: () => unknown): AmqpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AmqpError) return e;
    throw e;
  }
  assert.fail("expected an AmqpError");
}

test("a frame end octet other than 0xCE is a FRAME_ERROR", () => {
  const bytes = Buffer.concat([PROTOCOL_HEADER, Buffer.from([8, 0, 0, 0, 0, 0, 0, 0x00])]);
  const e = errorOf(() => feed(bytes, bytes.length));
  assert.equal(e.replyCode, 501);
  assert.equal(e.scope, "connection");
});

test("a frame larger than frame_max is refused from its header alone", () => {
  const head = Buffer.from([1, 0, 1, 0, 0x10, 0, 0]); // announces 1 MiB
  const e = errorOf(() => feed(Buffer.concat([PROTOCOL_HEADER, head]), 100, 131072));
  assert.equal(e.replyCode, 501);
});

test("an unknown frame type is a FRAME_ERROR", () => {
  const bytes = Buffer.concat([PROTOCOL_HEADER, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0xce])]);
  assert.equal(errorOf(() => feed(bytes, bytes.length)).replyCode, 501);
});

test("a content header with no method before it is UNEXPECTED_FRAME", () => {
  const payload = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const frame = Buffer.concat([
    Buffer.from([2, 0, 1, 0, 0, 0, payload.length]),
    payload,
    Buffer.from([0xce]),
  ]);
  const e = errorOf(() => feed(Buffer.concat([PROTOCOL_HEADER, frame]), 1000));
  assert.equal(e.replyCode, 505);
});

test("a body longer than its header announced is a FRAME_ERROR", () => {
  const good = publishBytes(encodeProperties({}), Buffer.from("abc"), 4096);
  // Patch the announced body size (8 bytes after class id and weight in the header frame) to 2.
  const headerAt = good.indexOf(Buffer.from([2, 0, 1]), PROTOCOL_HEADER.length);
  const patched = Buffer.from(good);
  patched.writeUInt32BE(2, headerAt + 7 + 4 + 4);
  assert.equal(errorOf(() => feed(patched, patched.length)).replyCode, 501);
});

test("a message larger than max_message_size closes its channel with 406, and its body frames are skipped", () => {
  const big = publishBytes(encodeProperties({}), Buffer.alloc(5000), 131072);
  const small = publishBytes(encodeProperties({}), Buffer.from("ok"), 131072).subarray(
    PROTOCOL_HEADER.length,
  );
  const assembler = new CommandAssembler({ maxMessageBytes: 4000 });
  const errors: ContentError[] = [];
  const done: Command[] = [];
  const reader = new FrameReader(
    {
      onFrame: (t, c, p) => {
        try {
          const cmd = assembler.frame(t, c, p);
          if (cmd) done.push(cmd);
        } catch (e) {
          if (e instanceof ContentError) errors.push(e);
          else throw e;
        }
      },
    },
    () => {},
    131072,
  );
  reader.push(Buffer.concat([big, small]));
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.channel, 1);
  assert.equal(errors[0]!.error.replyCode, 406);
  assert.equal(errors[0]!.error.scope, "channel");
  assert.match(
    errors[0]!.error.replyText,
    /message size 5000 is larger than configured max size 4000/,
  );
  assert.deepEqual(
    done.map((c) => c.body!.toString()),
    ["ok"],
    "the next message on the channel is read normally",
  );
});

test("a wrong protocol header is reported as invalid and nothing after it is read", () => {
  let valid: boolean | undefined;
  let frames = 0;
  const reader = new FrameReader(
    { onFrame: () => frames++ },
    (v) => {
      valid = v;
    },
    131072,
  );
  reader.push(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
  assert.equal(valid, false);
  assert.equal(frames, 0);
});
