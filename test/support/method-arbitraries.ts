import { readFileSync } from "node:fs";
import fc from "fast-check";
import type { Method } from "../../src/protocol/generated/methods.js";
import { REPO_ROOT } from "./broker-process.js";
import { fieldTable, shortString } from "./field-arbitraries.js";

/** The protocol spec our codec is generated from (spec/amqp-0-9-1.json). */
export const SPEC = JSON.parse(readFileSync(`${REPO_ROOT}spec/amqp-0-9-1.json`, "utf8")) as {
  replyCodes: { name: string; code: number; kind: string }[];
  classes: { name: string; id: number; methods: SpecMethod[] }[];
};

interface SpecMethod {
  name: string;
  id: number;
  receivedBy: string[];
  fields: { name: string; type: string; reserved?: boolean }[];
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const byType: Record<string, fc.Arbitrary<unknown>> = {
  bit: fc.boolean(),
  octet: fc.integer({ min: 0, max: 255 }),
  short: fc.integer({ min: 0, max: 65535 }),
  long: fc.integer({ min: 0, max: 0xffffffff }),
  longlong: fc.maxSafeNat(),
  shortstr: shortString,
  longstr: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
  table: fieldTable,
};

export interface MethodArbitrary {
  /** "queue.declare" */
  readonly full: string;
  /** class id << 16 | method id */
  readonly id: number;
  readonly serverReceives: boolean;
  readonly arb: fc.Arbitrary<Method>;
}

/** One arbitrary per method of the spec, with any values its argument types allow. */
export const METHOD_ARBITRARIES: readonly MethodArbitrary[] = SPEC.classes.flatMap((c) =>
  c.methods.map((m) => {
    const fields = Object.fromEntries(
      m.fields.filter((f) => !f.reserved).map((f) => [camel(f.name), byType[f.type]!]),
    );
    const full = `${c.name}.${m.name}`;
    return {
      full,
      id: (c.id << 16) | m.id,
      serverReceives: m.receivedBy.includes("server"),
      arb: fc.record(fields).map((args) => ({ name: full, ...args }) as unknown as Method),
    };
  }),
);
