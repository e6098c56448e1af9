import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBytes, parseWatermark } from "../../../src/runtime/resource-monitor.js";

test("sizes take RabbitMQ's units: kB/MB/GB in powers of 1000, k/M/G and KiB/MiB/GiB in 1024", () => {
  assert.equal(parseBytes("1048576"), 1048576);
  assert.equal(parseBytes("50MB"), 50_000_000);
  assert.equal(parseBytes("2GB"), 2_000_000_000);
  assert.equal(parseBytes("512MiB"), 512 * 1024 ** 2);
  assert.equal(parseBytes("1G"), 1024 ** 3);
  assert.equal(parseBytes("64k"), 65536);
  assert.equal(parseBytes("3M"), 3 * 1024 ** 2);
  assert.throws(() => parseBytes("10 bananas"), /not a size/);
  assert.throws(() => parseBytes("-5MB"), /not a size/);
});

test("a watermark is a fraction of RAM up to 1, otherwise a size", () => {
  assert.deepEqual(parseWatermark("0.4"), { relative: 0.4 });
  assert.deepEqual(parseWatermark("1"), { relative: 1 });
  assert.deepEqual(parseWatermark("2GB"), { absolute: 2_000_000_000 });
});
