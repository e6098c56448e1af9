import assert from "node:assert/strict";
import { test } from "node:test";
import { frameRecord, scanRecords } from "../../../src/store/record-framing.js";

const records = ["first", "second record", "third"].map((text) => Buffer.from(text));
const framed = Buffer.concat(records.map(frameRecord));

test("scanning framed records returns every payload and ends cleanly", () => {
  const scan = scanRecords(framed);
  assert.deepEqual(scan.payloads.map(String), ["first", "second record", "third"]);
  assert.equal(scan.validEndBytes, framed.length);
  assert.equal(scan.damaged, false);
});

test("a torn last record at any length is cut off and the records before it are kept", () => {
  const lastStart = framed.length - frameRecord(records[2]).length;
  for (let cut = lastStart + 1; cut < framed.length; cut++) {
    const scan = scanRecords(framed.subarray(0, cut));
    assert.deepEqual(scan.payloads.map(String), ["first", "second record"], `cut at ${cut}`);
    assert.equal(scan.validEndBytes, lastStart);
    assert.equal(scan.damaged, true);
  }
});

test("a flipped bit in a payload stops the scan at that record", () => {
  const corrupt = Buffer.from(framed);
  corrupt[frameRecord(records[0]).length + 10] ^= 0x01;
  const scan = scanRecords(corrupt);
  assert.deepEqual(scan.payloads.map(String), ["first"]);
  assert.equal(scan.damaged, true);
});
