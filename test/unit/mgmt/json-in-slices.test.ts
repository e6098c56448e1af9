import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseObjectInSlices } from "../../../src/mgmt/http/json-in-slices.js";

const noYield = () => Promise.resolve();

/** JSON.parse's answer, or undefined where it throws or gives no plain object. */
function reference(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? parsed
    : undefined;
}

test("a JSON object parsed in slices equals JSON.parse's, indented or not", async () => {
  const objects = fc.dictionary(
    fc.string(),
    fc.oneof(fc.array(fc.jsonValue(), { maxLength: 6 }), fc.jsonValue()),
  );
  await fc.assert(
    fc.asyncProperty(objects, fc.constantFrom(undefined, 1, "\t"), async (value, indent) => {
      const text = JSON.stringify(value, null, indent);
      assert.deepEqual(await parseObjectInSlices(text, noYield), JSON.parse(text));
    }),
    { numRuns: 500 },
  );
});

test("what JSON.parse refuses, or what is not an object, is refused", async () => {
  const fragments = fc.constantFrom(
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "\\",
    "1",
    "-",
    "e",
    "null",
    "true",
    " ",
    "\n",
    '"a"',
    "{}",
    "[]",
  );
  const texts = fc.oneof(
    fc.array(fragments, { maxLength: 14 }).map((parts) => parts.join("")),
    fc.string(),
  );
  await fc.assert(
    fc.asyncProperty(texts, async (text) => {
      assert.deepEqual(await parseObjectInSlices(text, noYield), reference(text));
    }),
    { numRuns: 3000 },
  );
  for (const text of [
    '{"a":[1,]}',
    '{"a":1,}',
    '{"a" 1}',
    '{"a":[1] 2}',
    '{"a":1} x',
    "[1]",
    '"s"',
  ]) {
    assert.equal(await parseObjectInSlices(text, noYield), undefined, text);
  }
});

test('"__proto__" is an own member, as JSON.parse makes it, and the last duplicate wins', async () => {
  const parsed = await parseObjectInSlices(
    '{"__proto__": {"admin": true}, "a": 1, "a": [2]}',
    noYield,
  );
  assert.deepEqual(Object.keys(parsed!), ["__proto__", "a"]);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.deepEqual(parsed!.a, [2]);
});

test("a 4 MB definitions body yields the event loop while it is parsed", async () => {
  const queues = Array.from({ length: 20_000 }, (_, i) => ({
    name: `q${i}`,
    vhost: "/",
    durable: true,
    auto_delete: false,
    arguments: { "x-max-length": i },
  }));
  const bindings = queues.map((q, i) => ({
    source: "x",
    vhost: "/",
    destination: q.name,
    destination_type: "queue",
    routing_key: `k.${i}.#`,
    arguments: {},
  }));
  const text = JSON.stringify({ queues, bindings, rabbit_version: "3.13.7" });
  let yields = 0;
  const parsed = await parseObjectInSlices(text, () => {
    yields++;
    return new Promise((resolve) => setImmediate(resolve));
  });
  assert.deepEqual(parsed, JSON.parse(text));
  // The whole parse takes well over one 5 ms slice on any machine this runs on.
  assert.ok(yields > 0, "the parse never yielded");
});
