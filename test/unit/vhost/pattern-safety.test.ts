import assert from "node:assert/strict";
import { test } from "node:test";
import { patternProblem } from "../../../src/vhost/pattern-safety.js";

test("everyday patterns are accepted, nested quantifiers included when V8 can run them linearly", () => {
  for (const p of [
    ".*",
    "",
    "^amq\\.",
    "^(?!amq\\.).*",
    "^(notifications|reply_.*)$",
    "^(a+)+$",
    "[(]a+[)]+",
    "\\(a+\\)+",
    "^(?!amq\\.)(ab){2}$",
    "^(?!x)(a+)?$",
    "(?:a|b)*c",
  ])
    assert.equal(patternProblem(p), undefined, p);
});

test("nested quantifiers with a lookaround or backreference are refused", () => {
  for (const p of [
    "^(?!amq\\.)(a+)+$",
    "(a*)*\\1",
    "(?<=x)(\\w+\\s?)+$",
    "(?<n>a+)+\\k<n>",
    "^(?=.)((ab)*c+){2,}$",
  ])
    assert.match(
      patternProblem(p) ?? "",
      /nests quantifiers and uses a lookaround or backreference/,
      p,
    );
});

test("a pattern that does not compile is refused with the engine's reason", () => {
  assert.match(patternProblem("(") ?? "", /^pattern '\(' is not a valid regular expression: /);
});
