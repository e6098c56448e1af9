import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import fc from "fast-check";
import { CommandAssembler } from "../../../src/protocol/command-assembler.js";
import { FrameReader } from "../../../src/protocol/frame-reader.js";
import { FrameWriter } from "../../../src/protocol/frame-writer.js";
import { PROTOCOL_HEADER } from "../../../src/protocol/generated/constants.js";
import { decodeMethodArgs, type Method } from "../../../src/protocol/generated/methods.js";
import { Reader } from "../../../src/protocol/wire-reader.js";
import { METHOD_ARBITRARIES } from "../../support/method-arbitraries.js";

const root = new URL("../../../../", import.meta.url);
const methods = METHOD_ARBITRARIES;

test("every method of the spec round-trips through a method frame", () => {
  for (const m of methods) {
    fc.assert(
      fc.property(m.arb, (method) => {
        const writer = new FrameWriter(1 << 20);
        writer.method(7, method);
        const [frame] = writer.take();
        assert.equal(frame![0], 1);
        assert.equal(frame!.readUInt16BE(1), 7);
        const payload = frame!.subarray(7, frame!.length - 1);
        const r = new Reader(payload);
        assert.equal(r.long(), m.id, m.full);
        assert.deepEqual(decodeMethodArgs(m.id, r), method);
        assert.equal(r.remaining, 0, `${m.full} left bytes unread`);
      }),
      { numRuns: 40 },
    );
  }
});

test("frames split at every byte boundary reassemble into the same commands", () => {
  const serverMethods = methods.filter((m) => m.serverReceives && m.full !== "basic.publish");
  const command = fc.oneof(...serverMethods.map((m) => m.arb));
  fc.assert(
    fc.property(
      fc.array(command, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 40 }),
      (cmds, step) => {
        const writer = new FrameWriter(1 << 20);
        writer.raw(PROTOCOL_HEADER);
        cmds.forEach((c, i) => {
          writer.method(i, c);
        });
        const bytes = Buffer.concat(writer.take());
        const got: Method[] = [];
        const assembler = new CommandAssembler({ maxMessageBytes: 1 << 20 });
        const reader = new FrameReader(
          {
            onFrame: (type, ch, payload) => {
              const cmd = assembler.frame(type, ch, payload);
              if (cmd) got.push(cmd.method);
            },
          },
          (valid) => assert.ok(valid),
          1 << 20,
        );
        for (let at = 0; at < bytes.length; at += step) reader.push(bytes.subarray(at, at + step));
        assert.deepEqual(got, cmds);
      },
    ),
    { numRuns: 200 },
  );
});

test("the generated codec matches spec/ (regenerating changes nothing)", () => {
  const result = spawnSync(
    process.execPath,
    [new URL("tools/codegen/generate.mjs", root).pathname, "--check"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(result.status, 0, result.stderr);
});
