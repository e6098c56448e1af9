import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Binding, Destination } from "../../../src/routing/binding.js";
import { TopicExchange } from "../../../src/routing/topic-exchange.js";

/**
 * The regular-expression model of topic matching: the routing key becomes "." +
 * its words joined by "." ("" is zero words), a binding word `*` is one word and
 * `#` is any number of words.
 */
function modelMatches(bindingKey: string, routingKey: string): boolean {
  const words = (k: string) => (k === "" ? [] : k.split("."));
  const escapeWord = (w: string) => w.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
  const pattern = words(bindingKey)
    .map((w) => (w === "*" ? "\\.[^.]*" : w === "#" ? "(?:\\.[^.]*)*" : `\\.${escapeWord(w)}`))
    .join("");
  const subject = words(routingKey)
    .map((w) => `.${w}`)
    .join("");
  return new RegExp(`^${pattern}$`).test(subject);
}

function dest(name: string): Destination {
  return { kind: "queue", name };
}

function binding(key: string, d: Destination): Binding {
  return { source: "t", destination: d, routingKey: key, arguments: new Map() };
}

const word = fc.constantFrom("a", "b", "c", "");
const patternWord = fc.constantFrom("a", "b", "*", "#", "", "a#");
const key = (w: fc.Arbitrary<string>) => fc.array(w, { maxLength: 5 }).map((ws) => ws.join("."));

test("the topic trie routes exactly as the regular-expression model", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(key(patternWord), { maxLength: 8 }),
      fc.array(key(word), { maxLength: 10 }),
      (patterns, keys) => {
        const exchange = new TopicExchange();
        const dests = patterns.map((_, i) => dest(`q${i}`));
        for (const [i, p] of patterns.entries()) exchange.add(binding(p, dests[i]!));
        for (const k of keys) {
          const out = new Set<Destination>();
          exchange.route({ routingKey: k, headers: () => new Map() }, out);
          const expected = new Set(dests.filter((_, i) => modelMatches(patterns[i]!, k)));
          assert.deepEqual(out, expected, `key '${k}' with bindings ${JSON.stringify(patterns)}`);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test("removing topic bindings leaves the others routing as before", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(key(patternWord), { minLength: 1, maxLength: 8 }),
      fc.array(key(word), { maxLength: 6 }),
      fc.nat(),
      (patterns, keys, pick) => {
        const exchange = new TopicExchange();
        const bindings = patterns.map((p, i) => binding(p, dest(`q${i}`)));
        for (const b of bindings) exchange.add(b);
        const removed = bindings[pick % bindings.length]!;
        exchange.remove(removed);
        for (const k of keys) {
          const out = new Set<Destination>();
          exchange.route({ routingKey: k, headers: () => new Map() }, out);
          const expected = new Set(
            bindings
              .filter((b) => b !== removed && modelMatches(b.routingKey, k))
              .map((b) => b.destination),
          );
          assert.deepEqual(out, expected);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("topic matching follows RabbitMQ's table for empty words and keys", () => {
  const cases: [string, string, boolean][] = [
    ["#", "", true],
    ["#", ".", true],
    ["*", "", false],
    ["*", "a", true],
    ["*", ".", false],
    ["a.#", "a", true],
    ["a.#", "a.b.c", true],
    ["a.#", "ab", false],
    ["#.a", ".a", true],
    ["a.*", "a", false],
    ["a.*", "a.", true],
    ["a.*.b", "a..b", true],
    ["a.#.b", "a.b", true],
    ["", "", true],
    ["", "a", false],
    ["*.#", "", false],
    ["*.*", ".", true],
    ["a#", "a#", true],
    ["a#", "ab", false],
  ];
  for (const [pattern, routingKey, expected] of cases) {
    const exchange = new TopicExchange();
    const d = dest("q");
    exchange.add(binding(pattern, d));
    const out = new Set<Destination>();
    exchange.route({ routingKey, headers: () => new Map() }, out);
    assert.equal(out.has(d), expected, `binding '${pattern}' vs key '${routingKey}'`);
  }
});
