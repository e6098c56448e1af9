import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AmqpError } from "../../../src/protocol/amqp-error.js";
import type { FieldTable, FieldValue } from "../../../src/protocol/field-table.js";
import { resolveQueueSettings } from "../../../src/queue/queue-settings.js";
import type { QueueDefinition } from "../../../src/queue/queue-type.js";
import {
  DEFAULT_DELIVERY_LIMIT,
  resolveQuorumSettings,
  validateQuorumArguments,
} from "../../../src/quorum/quorum-arguments.js";
import { assertQueueEquivalent } from "../../../src/vhost/equivalence.js";
import { PolicyStore, validatePolicy } from "../../../src/vhost/policies.js";
import { validateQueueArguments } from "../../../src/vhost/queue-arguments.js";

const s = (v: string): FieldValue => ({ type: "S", value: Buffer.from(v) });
const int = (n: number): FieldValue => ({ type: "I", value: n });

function quorum(args: Record<string, FieldValue> = {}, props: Partial<QueueDefinition> = {}) {
  return {
    name: "q",
    vhost: "/",
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: new Map([["x-queue-type", s("quorum")], ...Object.entries(args)]) as FieldTable,
    ...props,
  };
}

/** The 406 text a declaration gets, or undefined when it is accepted. */
function refusal(def: QueueDefinition): string | undefined {
  try {
    validateQuorumArguments(def);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof AmqpError);
    assert.equal(e.replyCode, 406);
    return e.replyText;
  }
}

const PRE = "PRECONDITION_FAILED - ";

describe("a quorum queue declaration is refused as RabbitMQ 4 refuses it", () => {
  test("a durable, shared, kept queue with quorum arguments is accepted", () => {
    const def = quorum({
      "x-delivery-limit": int(5),
      "x-dead-letter-exchange": s("dlx"),
      "x-dead-letter-strategy": s("at-least-once"),
      "x-overflow": s("reject-publish"),
      "x-quorum-initial-group-size": int(3),
      "x-queue-leader-locator": s("balanced"),
      "x-max-in-memory-length": int(10),
      "x-single-active-consumer": { type: "t", value: true },
      "x-custom-thing": s("passes, as unknown arguments do"),
    });
    assert.equal(refusal(def), undefined);
  });

  test("auto-delete, exclusive and non-durable are refused as invalid properties, in that order", () => {
    assert.equal(
      refusal(quorum({}, { autoDelete: true, exclusive: true, durable: false })),
      `${PRE}invalid property 'auto-delete' for queue 'q' in vhost '/'`,
    );
    assert.equal(
      refusal(quorum({}, { exclusive: true, durable: false })),
      `${PRE}invalid property 'exclusive-owner' for queue 'q' in vhost '/'`,
    );
    assert.equal(
      refusal(quorum({}, { durable: false })),
      `${PRE}invalid property 'non-durable' for queue 'q' in vhost '/'`,
    );
  });

  test("classic queue and stream arguments are refused 'of queue type rabbit_quorum_queue'", () => {
    for (const [key, value] of [
      ["x-max-priority", int(5)],
      ["x-queue-mode", s("lazy")],
      ["x-queue-version", int(2)],
      ["x-queue-master-locator", s("min-masters")],
      ["x-max-age", s("1D")],
      ["x-stream-max-segment-size-bytes", int(1000)],
      ["x-initial-cluster-size", int(3)],
    ] as const) {
      assert.equal(
        refusal(quorum({ [key]: value })),
        `${PRE}invalid arg '${key}' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue`,
      );
    }
  });

  test("Warren's retry delays are accepted on quorum queues", () => {
    assert.equal(
      refusal(quorum({ "x-retry-delay": int(1000), "x-retry-delay-max": int(8000) })),
      undefined,
    );
  });

  test("argument values are checked before the properties", () => {
    assert.equal(
      refusal(quorum({ "x-max-priority": int(5) }, { durable: false })),
      `${PRE}invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue`,
    );
    assert.equal(
      refusal(quorum({ "x-message-ttl": int(-1) }, { autoDelete: true })),
      `${PRE}invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}`,
    );
  });

  test("quorum-only arguments get RabbitMQ's value checks", () => {
    const cases: [string, FieldValue, string][] = [
      ["x-dead-letter-strategy", s("exactly-once"), "invalid_dlx_strategy"],
      ["x-dead-letter-strategy", int(1), "{unacceptable_type,signedint}"],
      ["x-queue-leader-locator", s("nearest"), "invalid_queue_locator_arg"],
      ["x-queue-leader-locator", int(1), "{unacceptable_type,signedint}"],
      ["x-quorum-initial-group-size", int(0), "{value_zero,0}"],
      ["x-quorum-initial-group-size", int(-3), "{value_negative,-3}"],
      ["x-quorum-initial-group-size", s("3"), '"expected integer, got longstr"'],
      ["x-max-in-memory-bytes", int(-1), "{value_negative,-1}"],
      ["x-overflow", s("drop-tail"), "invalid_overflow"],
      ["x-delivery-limit", s("5"), '"expected integer, got longstr"'],
    ];
    for (const [key, value, detail] of cases) {
      assert.equal(
        refusal(quorum({ [key]: value })),
        `${PRE}invalid arg '${key}' for queue 'q' in vhost '/': ${detail}`,
        key,
      );
    }
  });

  test("a negative x-delivery-limit is accepted: -1 is unlimited in RabbitMQ 4", () => {
    assert.equal(refusal(quorum({ "x-delivery-limit": int(-1) })), undefined);
  });

  test("the deprecated leader locators and reject-publish-dlx are accepted", () => {
    for (const locator of ["client-local", "random", "least-leaders", "min-masters"])
      assert.equal(refusal(quorum({ "x-queue-leader-locator": s(locator) })), undefined);
    assert.equal(refusal(quorum({ "x-overflow": s("reject-publish-dlx") })), undefined);
  });

  test("the dead-letter exchange and routing key keep their checks", () => {
    assert.equal(
      refusal(quorum({ "x-dead-letter-routing-key": s("k") })),
      `${PRE}invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': routing_key_but_no_dlx_defined`,
    );
  });

  test("validateQueueArguments applies the quorum rules to a registered quorum type without its own", () => {
    const types = {
      get: (n: string) =>
        n === "quorum"
          ? {
              name: "quorum",
              create: () => {
                throw new Error("unused");
              },
            }
          : undefined,
    };
    assert.throws(
      () => validateQueueArguments(quorum({}, { durable: false }), types),
      /invalid property 'non-durable'/,
    );
    // Without a quorum type the 406 is the unsupported queue type's.
    assert.throws(() => validateQueueArguments(quorum()), /unsupported queue type 'quorum'/);
  });

  test("quorum-only arguments are refused on a classic queue", () => {
    for (const key of [
      "x-dead-letter-strategy",
      "x-quorum-initial-group-size",
      "x-max-in-memory-length",
    ]) {
      const def = { ...quorum({ [key]: int(1) }), arguments: new Map([[key, int(1)]]) };
      assert.throws(
        () => validateQueueArguments(def),
        new RegExp(
          `invalid arg '${key}' for queue 'q' in vhost '/' of queue type rabbit_classic_queue`,
        ),
      );
    }
  });
});

describe("a redeclared quorum queue compares its own arguments", () => {
  test("x-dead-letter-strategy and x-quorum-initial-group-size must match", () => {
    const current = quorum({ "x-quorum-initial-group-size": int(3) });
    assert.throws(
      () => assertQueueEquivalent(current, quorum({ "x-quorum-initial-group-size": int(5) })),
      /inequivalent arg 'x-quorum-initial-group-size' for queue 'q' in vhost '\/': received '5' but current is '3'/,
    );
    assert.throws(
      () =>
        assertQueueEquivalent(quorum(), quorum({ "x-dead-letter-strategy": s("at-least-once") })),
      /inequivalent arg 'x-dead-letter-strategy'/,
    );
  });

  test("without x-queue-type it is not equivalent: none is classic", () => {
    const plain = { ...quorum(), arguments: new Map() };
    assert.throws(
      () => assertQueueEquivalent(quorum(), plain),
      /inequivalent arg 'x-queue-type' for queue 'q' in vhost '\/': received none but current is the value 'quorum' of type 'longstr'/,
    );
  });

  test("a classic queue with no x-queue-type is equivalent to one declared 'classic', both ways", () => {
    const none = { ...quorum(), arguments: new Map() };
    const classic = { ...quorum(), arguments: new Map([["x-queue-type", s("classic")]]) };
    assertQueueEquivalent(none, classic);
    assertQueueEquivalent(classic, none);
  });
});

const policy = (definition: Record<string, unknown>) => ({ name: "p", definition });

describe("quorum settings are resolved as RabbitMQ 4 resolves them", () => {
  test("defaults: node's group size, client-local, at-most-once, drop-head, 20 deliveries", () => {
    assert.deepEqual(resolveQuorumSettings(new Map()), {
      initialGroupSize: undefined,
      leaderLocator: "client-local",
      deadLetterStrategy: "at-most-once",
      overflow: "drop-head",
      deliveryLimit: DEFAULT_DELIVERY_LIMIT,
    });
    assert.equal(DEFAULT_DELIVERY_LIMIT, 20);
  });

  test("x-quorum-initial-group-size is the initial group size (no policy sets it)", () => {
    const args = new Map([["x-quorum-initial-group-size", int(5)]]);
    assert.equal(
      resolveQuorumSettings(args, policy({ "initial-cluster-size": 3 })).initialGroupSize,
      5,
    );
  });

  test("the leader locator: the policy wins over the argument; deprecated names are balanced", () => {
    const args = new Map([["x-queue-leader-locator", s("balanced")]]);
    assert.equal(resolveQuorumSettings(args).leaderLocator, "balanced");
    assert.equal(
      resolveQuorumSettings(args, policy({ "queue-leader-locator": "client-local" })).leaderLocator,
      "client-local",
    );
    for (const old of ["random", "least-leaders", "min-masters"])
      assert.equal(
        resolveQuorumSettings(new Map([["x-queue-leader-locator", s(old)]])).leaderLocator,
        "balanced",
      );
  });

  test("overflow: the policy wins over the argument; reject-publish-dlx is drop-head", () => {
    const args = new Map([["x-overflow", s("reject-publish")]]);
    assert.equal(resolveQuorumSettings(args).overflow, "reject-publish");
    assert.equal(
      resolveQuorumSettings(args, policy({ overflow: "drop-head" })).overflow,
      "drop-head",
    );
    assert.equal(
      resolveQuorumSettings(new Map([["x-overflow", s("reject-publish-dlx")]])).overflow,
      "drop-head",
    );
  });

  test("at-least-once needs a dead-letter exchange and reject-publish; the argument wins over the policy", () => {
    const withDlx = (extra: [string, FieldValue][]) =>
      new Map<string, FieldValue>([["x-dead-letter-exchange", s("dlx")], ...extra]);
    const strategy = (args: FieldTable, p?: ReturnType<typeof policy>) =>
      resolveQuorumSettings(args, p).deadLetterStrategy;
    const leastOnce: [string, FieldValue] = ["x-dead-letter-strategy", s("at-least-once")];
    const reject: [string, FieldValue] = ["x-overflow", s("reject-publish")];
    assert.equal(strategy(withDlx([leastOnce, reject])), "at-least-once");
    assert.equal(strategy(withDlx([leastOnce])), "at-most-once", "drop-head falls back");
    assert.equal(strategy(new Map([leastOnce, reject])), "at-most-once", "no exchange");
    assert.equal(
      strategy(withDlx([reject]), policy({ "dead-letter-strategy": "at-least-once" })),
      "at-least-once",
    );
    assert.equal(
      strategy(
        withDlx([reject, ["x-dead-letter-strategy", s("at-most-once")]]),
        policy({ "dead-letter-strategy": "at-least-once" }),
      ),
      "at-most-once",
    );
    assert.equal(
      strategy(
        new Map([leastOnce]),
        policy({ "dead-letter-exchange": "dlx", overflow: "reject-publish" }),
      ),
      "at-least-once",
    );
  });

  test("delivery limit: the lowest set wins; -1 is unlimited only when every source says so", () => {
    const limit = (arg: number | undefined, p?: number, op?: number) =>
      resolveQuorumSettings(
        arg === undefined ? new Map() : new Map([["x-delivery-limit", int(arg)]]),
        p === undefined ? undefined : policy({ "delivery-limit": p }),
        op === undefined ? undefined : { name: "op", definition: { "delivery-limit": op } },
      ).deliveryLimit;
    assert.equal(limit(undefined), 20);
    assert.equal(limit(5), 5);
    assert.equal(limit(5, 3), 3);
    assert.equal(limit(5, 10, 4), 4);
    assert.equal(limit(-1), -1);
    assert.equal(limit(-1, 7), 7);
    assert.equal(limit(undefined, -1), -1);
    assert.equal(limit(-1, -1, 2), 2);
    assert.equal(limit(0), 0);
  });
});

describe("policies with keys quorum queues do not support skip them", () => {
  const store = new PolicyStore();
  const set = (name: string, priority: number, definition: Record<string, unknown>) =>
    store.set("policy", {
      vhost: "/",
      name,
      pattern: ".*",
      applyTo: "queues",
      priority,
      definition,
    });
  set("ha", 10, { "ha-mode": "all", "max-length": 5 });
  set("limits", 1, { "max-length": 9 });

  test("a quorum queue gets the next policy; a classic queue the first", () => {
    assert.equal(store.match("policy", "/", "queue", "q", "quorum")?.name, "limits");
    assert.equal(store.match("policy", "/", "queue", "q", "classic")?.name, "ha");
  });
});

describe("quorum queue policy keys", () => {
  const p = (definition: Record<string, unknown>) => ({
    vhost: "/",
    name: "p",
    pattern: ".*",
    applyTo: "quorum_queues" as const,
    priority: 0,
    definition,
  });

  test("delivery-limit -1, dead-letter-strategy and target-group-size are accepted", () => {
    assert.deepEqual(
      validatePolicy(
        "policy",
        p({
          "delivery-limit": -1,
          "dead-letter-strategy": "at-least-once",
          "target-group-size": 3,
        }),
      ),
      [],
    );
    assert.deepEqual(validatePolicy("operator_policy", p({ "target-group-size": 5 })), []);
    assert.deepEqual(validatePolicy("policy", p({ "dead-letter-strategy": "twice" })), [
      "dead-letter-strategy: must be one of at-most-once, at-least-once",
    ]);
  });

  test("a classic queue takes a negative delivery-limit policy as no limit", () => {
    assert.equal(
      resolveQueueSettings(new Map(), policy({ "delivery-limit": -1 })).deliveryLimit,
      undefined,
    );
    assert.equal(resolveQueueSettings(new Map(), policy({ "delivery-limit": 4 })).deliveryLimit, 4);
  });
});
