import assert from "node:assert/strict";
import { test } from "node:test";
import type { FieldTable, FieldValue } from "../../../src/protocol/field-table.js";
import { headersMatch } from "../../../src/routing/headers-exchange.js";

const S = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
const I = (n: number): FieldValue => ({ type: "I", value: n });
const l = (n: bigint): FieldValue => ({ type: "l", value: n });
const d = (n: number): FieldValue => ({ type: "d", value: n });
const t = (b: boolean): FieldValue => ({ type: "t", value: b });
const V: FieldValue = { type: "V", value: null };
const table = (entries: [string, FieldValue][]): FieldTable => new Map(entries);

test("x-match all needs every binding argument present and equal", () => {
  const args = table([
    ["a", S("1")],
    ["b", I(2)],
  ]);
  assert.equal(
    headersMatch(
      args,
      table([
        ["a", S("1")],
        ["b", I(2)],
        ["c", S("x")],
      ]),
    ),
    true,
  );
  assert.equal(headersMatch(args, table([["a", S("1")]])), false);
  assert.equal(
    headersMatch(
      args,
      table([
        ["a", S("1")],
        ["b", I(3)],
      ]),
    ),
    false,
  );
});

test("x-match any needs one binding argument to match", () => {
  const args = table([
    ["x-match", S("any")],
    ["a", S("1")],
    ["b", I(2)],
  ]);
  assert.equal(headersMatch(args, table([["b", I(2)]])), true);
  assert.equal(headersMatch(args, table([["c", I(2)]])), false);
});

test("numbers compare by value across integer widths and floats, not across strings or booleans", () => {
  assert.equal(headersMatch(table([["n", I(1)]]), table([["n", l(1n)]])), true);
  assert.equal(headersMatch(table([["n", I(1)]]), table([["n", d(1.0)]])), true);
  assert.equal(headersMatch(table([["n", I(1)]]), table([["n", S("1")]])), false);
  assert.equal(headersMatch(table([["n", t(true)]]), table([["n", I(1)]])), false);
  assert.equal(
    headersMatch(table([["s", S("1")]]), table([["s", { type: "x", value: Buffer.from("1") }]])),
    true,
  );
});

test("a void binding value matches on the header's presence", () => {
  assert.equal(headersMatch(table([["k", V]]), table([["k", S("anything")]])), true);
  assert.equal(headersMatch(table([["k", V]]), table([])), false);
});

test("x- arguments count only in the -with-x modes", () => {
  const plain = table([
    ["x-match", S("all")],
    ["x-tenant", S("t1")],
  ]);
  assert.equal(headersMatch(plain, table([])), true, "all with no non-x keys matches everything");
  const withX = table([
    ["x-match", S("all-with-x")],
    ["x-tenant", S("t1")],
  ]);
  assert.equal(headersMatch(withX, table([])), false);
  assert.equal(headersMatch(withX, table([["x-tenant", S("t1")]])), true);
  assert.equal(
    headersMatch(table([["x-match", S("any")]]), table([["a", I(1)]])),
    false,
    "any with no keys matches nothing",
  );
  assert.equal(
    headersMatch(
      table([
        ["x-match", S("any-with-x")],
        ["x-k", I(1)],
      ]),
      table([["x-k", I(1)]]),
    ),
    true,
  );
});
