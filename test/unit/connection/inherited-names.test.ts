import assert from "node:assert/strict";
import { test } from "node:test";
import { toPlainJson, toTaggedJson } from "../../../src/protocol/field-table-json.js";
import { openClient, testBroker } from "../../support/in-process-client.js";

// Found by the fuzz test (test/fuzz): names a client chooses were looked up in plain
// objects, so "__proto__", "constructor" or "toString" found Object.prototype's
// properties: a 541 INTERNAL_ERROR for a queue argument named "__proto__" or an
// exchange of type "hasOwnProperty", and a wrong 406 for an argument named "toString".
const NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty"];

const client = () => openClient(testBroker());

test("a queue argument named after an Object.prototype property is an ordinary unknown argument", () => {
  for (const name of NAMES) {
    const c = client();
    c.declareQueue(1, "q", { arguments: new Map([[name, { type: "I", value: 1 }]]) });
    assert.deepEqual(
      c.pump().map((r) => r.method.name),
      ["queue.declare-ok"],
      name,
    );
  }
});

test("an exchange type or x-delayed-type named after an Object.prototype property is refused with 406", () => {
  for (const name of NAMES) {
    const c = client();
    c.declareExchange(1, "x", name);
    const close = c.pump().find((r) => r.method.name === "channel.close")?.method as
      | { replyCode: number; replyText: string }
      | undefined;
    assert.deepEqual(close && [close.replyCode, close.replyText], [
      406,
      `PRECONDITION_FAILED - unknown exchange type '${name}'`,
    ]);
    c.method(1, { name: "channel.close-ok" });
    c.openChannel(2);
    c.declareExchange(
      2,
      "xd",
      "x-delayed-message",
      new Map([["x-delayed-type", { type: "S", value: Buffer.from(name) }]]),
    );
    const delayed = c.pump().find((r) => r.method.name === "channel.close")?.method as
      | { replyCode: number }
      | undefined;
    assert.equal(delayed?.replyCode, 406, name);
    assert.equal(c.conn.state, "open");
  }
});

test("field tables with such keys keep them as plain keys in definitions and API JSON", () => {
  const table = new Map(NAMES.map((n) => [n, { type: "I" as const, value: 7 }]));
  const plain = JSON.parse(JSON.stringify(toPlainJson(table)));
  assert.deepEqual(Object.keys(plain).sort(), [...NAMES].sort());
  assert.equal(Object.getOwnPropertyDescriptor(plain, "__proto__")?.value, 7);
  const tagged = JSON.parse(JSON.stringify(toTaggedJson(table)));
  assert.deepEqual(Object.keys(tagged).sort(), [...NAMES].sort());
});
