import assert from "node:assert/strict";
import { test } from "node:test";
import {
  frameRecord,
  RECORD_HEADER_BYTES,
  unframeRecord,
  validRecordEnd,
} from "../../../src/store/record-framing.js";

const payloads = ["first", "second record", "third"].map((text) => Buffer.from(text));
const framed = Buffer.concat(payloads.map((p, i) => frameRecord(i + 1, [p])));

test("framed records read back with their type and payload, one after another", () => {
  let at = 0;
  const got: string[] = [];
  while (at < framed.length) {
    const end = validRecordEnd(framed, at);
    assert.ok(end > at, `a valid record at ${at}`);
    const record = unframeRecord(framed.subarray(at, end))!;
    got.push(`${record.type}:${record.payload}`);
    at = end;
  }
  assert.deepEqual(got, ["1:first", "2:second record", "3:third"]);
});

test("a record framed from several parts is the record of their concatenation", () => {
  const parts = [Buffer.from("ab"), new Uint8Array([0x63, 0x64]), Buffer.from("ef")];
  assert.deepEqual(frameRecord(7, parts), frameRecord(7, [Buffer.from("abcdef")]));
});

test("a record cut short at any length is not a record", () => {
  const one = frameRecord(1, [Buffer.from("a payload of some length")]);
  for (let cut = 0; cut < one.length; cut++) {
    assert.equal(validRecordEnd(one.subarray(0, cut), 0), -1, `cut at ${cut}`);
  }
  assert.equal(validRecordEnd(one, 0), one.length);
});

test("a flipped bit anywhere in a record (length, checksum, type or payload) is caught", () => {
  const one = frameRecord(2, [Buffer.from("checked")]);
  for (let byte = 0; byte < one.length; byte++) {
    const bad = Buffer.from(one);
    bad[byte]! ^= 0x10;
    assert.equal(unframeRecord(bad), undefined, `flipped byte ${byte}`);
  }
  assert.equal(RECORD_HEADER_BYTES, 9);
});
