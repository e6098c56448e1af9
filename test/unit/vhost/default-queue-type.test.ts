import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { runWarrenctl } from "../../../src/cli/warrenctl.js";
import { managementDispatch, managementRouter } from "../../../src/mgmt/mgmt-service.js";
import type { FieldTable, FieldValue } from "../../../src/protocol/field-table.js";
import { toTaggedJson } from "../../../src/protocol/field-table-json.js";
import type { QueueType } from "../../../src/queue/queue-type.js";
import { validateQuorumArguments } from "../../../src/quorum/quorum-arguments.js";
import { applyCommand } from "../../../src/vhost/commands/apply-command.js";
import type { MetadataCommand, QueueDeclare } from "../../../src/vhost/commands/command-types.js";
import {
  type MetadataState,
  newMetadataState,
} from "../../../src/vhost/commands/metadata-state.js";
import { buildSnapshot } from "../../../src/vhost/definitions.js";
import type { KnownQueueTypes } from "../../../src/vhost/queue-arguments.js";
import { heldQueueType } from "../../support/held-queue-type.js";
import { openClient, testBroker } from "../../support/in-process-client.js";
import { memoryBroker, requester, testContext } from "../../support/mgmt-context.js";

const s = (v: string): FieldValue => ({ type: "S", value: Buffer.from(v) });

/** A registry that runs classic queues and a quorum type with RabbitMQ's declaration rules. */
const WITH_QUORUM: KnownQueueTypes = {
  get: (name) =>
    name === "classic" || name === "quorum"
      ? ({
          name,
          create: () => {
            throw new Error("not built in these tests");
          },
          ...(name === "quorum" ? { validateArguments: validateQuorumArguments } : {}),
        } as QueueType)
      : undefined,
};

function stateWith(defaultQueueType: string | undefined, types = WITH_QUORUM): MetadataState {
  const state = newMetadataState(types);
  const outcome = applyCommand(state, {
    type: "vhost.add",
    vhost: "/",
    ...(defaultQueueType ? { defaultQueueType } : {}),
  });
  assert.ok(outcome.ok);
  return state;
}

function declare(
  state: MetadataState,
  queue: string,
  props: Partial<Pick<QueueDeclare, "durable" | "exclusive" | "autoDelete">> = {},
  args: FieldTable = new Map(),
) {
  const exclusive = props.exclusive ?? false;
  return applyCommand(state, {
    type: "queue.declare",
    vhost: "/",
    queue,
    durable: props.durable ?? true,
    exclusive,
    autoDelete: props.autoDelete ?? false,
    arguments: toTaggedJson(args),
    client: exclusive ? { owner: "conn-1" } : {},
  } satisfies MetadataCommand);
}

/** The x-queue-type stored in a queue's definition (undefined: none). */
function storedType(state: MetadataState, queue: string): string | undefined {
  const v = state.vhosts.get("/")!.queues.get(queue)!.definition.arguments.get("x-queue-type");
  return v?.type === "S" ? v.value.toString() : undefined;
}

const refusalOf = (o: ReturnType<typeof declare>) => (o.ok ? undefined : o.error.message);

describe("a vhost's default queue type decides declarations without x-queue-type", () => {
  test("in a quorum vhost a durable, shared, kept queue is a quorum queue, with x-queue-type stored", () => {
    const state = stateWith("quorum");
    assert.ok(declare(state, "q").ok);
    assert.equal(storedType(state, "q"), "quorum");
  });

  test("redeclaring it without x-queue-type, or with quorum, is equivalent; with classic it is not", () => {
    const state = stateWith("quorum");
    declare(state, "q");
    const again = declare(state, "q");
    assert.ok(again.ok && again.result.created === false);
    assert.ok(declare(state, "q", {}, new Map([["x-queue-type", s("quorum")]])).ok);
    assert.match(
      refusalOf(declare(state, "q", {}, new Map([["x-queue-type", s("classic")]])))!,
      /inequivalent arg 'x-queue-type' for queue 'q' in vhost '\/': received 'classic' but current is 'quorum'/,
    );
  });

  test("exclusive, auto-delete and non-durable declarations are classic queues there, as in RabbitMQ 4", () => {
    const state = stateWith("quorum");
    assert.ok(declare(state, "excl", { exclusive: true }).ok);
    assert.ok(declare(state, "ad", { autoDelete: true }).ok);
    assert.ok(declare(state, "transient", { durable: false }).ok);
    for (const q of ["excl", "ad", "transient"]) assert.equal(storedType(state, q), "classic", q);
    const again = declare(state, "transient", { durable: false });
    assert.ok(again.ok && again.result.created === false);
  });

  test("an explicit x-queue-type wins over the default", () => {
    const state = stateWith("quorum");
    assert.ok(declare(state, "c", {}, new Map([["x-queue-type", s("classic")]])).ok);
    assert.equal(storedType(state, "c"), "classic");
  });

  test("the quorum rules apply to a defaulted quorum queue", () => {
    const state = stateWith("quorum");
    assert.match(
      refusalOf(declare(state, "p", {}, new Map([["x-max-priority", { type: "I", value: 5 }]])))!,
      /PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'p' in vhost '\/' of queue type rabbit_quorum_queue/,
    );
  });

  test("without a quorum queue type the defaulted declaration is refused as an unsupported type", () => {
    const state = stateWith("quorum", { get: (n) => WITH_QUORUM.get(n === "classic" ? n : "-") });
    assert.match(
      refusalOf(declare(state, "q"))!,
      /invalid arg 'x-queue-type' for queue 'q' in vhost '\/': "unsupported queue type 'quorum'"/,
    );
  });

  test("a classic vhost stores arguments as declared; none and classic are the same queue", () => {
    const state = stateWith(undefined);
    assert.equal(state.vhosts.get("/")!.defaultQueueType, "classic");
    declare(state, "c");
    assert.equal(storedType(state, "c"), undefined);
    assert.ok(declare(state, "c", {}, new Map([["x-queue-type", s("classic")]])).ok);
    declare(state, "qq", {}, new Map([["x-queue-type", s("quorum")]]));
    assert.match(
      refusalOf(declare(state, "qq"))!,
      /received none but current is the value 'quorum' of type 'longstr'/,
    );
  });
});

describe("setting a vhost's default queue type", () => {
  test("vhost.add sets it on a new vhost and on an existing one, and refuses an unknown type", () => {
    const state = stateWith(undefined);
    const changed = applyCommand(state, {
      type: "vhost.add",
      vhost: "/",
      defaultQueueType: "quorum",
    });
    assert.ok(changed.ok && changed.result.created === false);
    assert.ok(changed.effects.some((e) => e.kind === "persist"));
    assert.equal(state.vhosts.get("/")!.defaultQueueType, "quorum");
    const same = applyCommand(state, { type: "vhost.add", vhost: "/", defaultQueueType: "quorum" });
    assert.ok(same.ok && same.effects.length === 0);
    const kept = applyCommand(state, { type: "vhost.add", vhost: "/" });
    assert.ok(kept.ok);
    assert.equal(state.vhosts.get("/")!.defaultQueueType, "quorum", "no default given: kept");
    const bad = applyCommand(state, { type: "vhost.add", vhost: "v2", defaultQueueType: "fifo" });
    assert.ok(!bad.ok);
    assert.equal(
      bad.error.message,
      "default queue type 'fifo' is not one of classic, quorum, stream",
    );
  });

  test("HTTP PUT /api/vhosts/{name} sets default_queue_type; GET shows it; a bad one is a 400", async () => {
    const broker = memoryBroker();
    const call = requester(testContext(broker));
    assert.equal(
      (await call("PUT", "/api/vhosts/qv", { default_queue_type: "quorum" })).status,
      201,
    );
    const shown = (await call("GET", "/api/vhosts/qv")).body as Record<string, unknown>;
    assert.equal(shown.default_queue_type, "quorum");
    assert.deepEqual((shown.metadata as Record<string, unknown>).default_queue_type, "quorum");
    assert.equal(
      (await call("PUT", "/api/vhosts/qv", { default_queue_type: "classic" })).status,
      204,
    );
    assert.equal(broker.vhosts.get("qv")!.defaultQueueType, "classic");
    const bad = await call("PUT", "/api/vhosts/qv", { default_queue_type: "fifo" }).catch((e) =>
      e.toResponse(),
    );
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /default queue type 'fifo' is not one of/);
    assert.equal((await call("PUT", "/api/vhosts/qv", {})).status, 204);
    assert.equal(broker.vhosts.get("qv")!.defaultQueueType, "classic");
  });

  test("warrenctl add_vhost --default-queue-type sets it", async () => {
    const broker = memoryBroker();
    const ctx = testContext(broker);
    const dispatch = managementDispatch(ctx, managementRouter(ctx));
    // The management API in process behind a plain HTTP listener, for warrenctl's client.
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const url = new URL(req.url!, "http://localhost");
        const r = await dispatch({
          method: req.method!,
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers as Record<string, string>,
          body: Buffer.concat(chunks),
          peerAddress: "127.0.0.1",
        }).catch((e) => e.toResponse());
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(r.body === undefined ? "" : JSON.stringify(r.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      let stderr = "";
      const out = {
        stdout: () => {},
        stderr: (t: string) => {
          stderr += t;
        },
      };
      const run = (...args: string[]) => runWarrenctl(["--url", url, ...args], {}, out);
      assert.equal(await run("add_vhost", "qq", "--default-queue-type", "quorum"), 0, stderr);
      assert.equal(broker.vhosts.get("qq")!.defaultQueueType, "quorum");
      assert.notEqual(await run("add_vhost", "bad", "--default-queue-type", "fifo"), 0);
      assert.match(stderr, /default queue type 'fifo' is not one of classic, quorum, stream/);
      assert.equal(broker.vhosts.has("bad"), false);
    } finally {
      server.close();
    }
  });

  test("the default queue type survives a definitions snapshot", () => {
    const broker = memoryBroker();
    broker.submitNow({ type: "vhost.add", vhost: "/", defaultQueueType: "quorum" });
    const snapshot = buildSnapshot(broker);
    assert.equal(snapshot.vhosts.find((v) => v.name === "/")?.defaultQueueType, "quorum");
  });
});

describe("over AMQP, in a vhost whose default is quorum", () => {
  function setup() {
    const broker = testBroker();
    const quorum = { ...heldQueueType("quorum"), validateArguments: validateQuorumArguments };
    broker.queueTypes.register(quorum);
    broker.submitNow({ type: "vhost.add", vhost: "/", defaultQueueType: "quorum" });
    const client = openClient(broker);
    return { broker, client };
  }

  test("a plain durable declaration makes a quorum queue and a repeat of it is declare-ok", () => {
    const { broker, client } = setup();
    client.declareQueue(1, "jobs", { durable: true });
    client.declareQueue(1, "jobs", { durable: true });
    assert.deepEqual(
      client.pump().map((r) => r.method.name),
      ["queue.declare-ok", "queue.declare-ok"],
    );
    assert.equal(broker.vhosts.get("/")!.queues.get("jobs")!.type, "quorum");
  });

  test("an exclusive reply queue is a classic queue", () => {
    const { broker, client } = setup();
    client.declareQueue(1, "replies", { exclusive: true });
    assert.deepEqual(
      client.pump().map((r) => r.method.name),
      ["queue.declare-ok"],
    );
    assert.equal(broker.vhosts.get("/")!.queues.get("replies")!.type, "classic");
  });

  test("x-max-priority closes the channel with RabbitMQ's quorum refusal", () => {
    const { client } = setup();
    client.declareQueue(1, "prio", {
      durable: true,
      arguments: new Map([["x-max-priority", { type: "I", value: 10 }]]),
    });
    const close = client.pump().find((r) => r.method.name === "channel.close")?.method as
      | { replyCode: number; replyText: string }
      | undefined;
    assert.equal(close?.replyCode, 406);
    assert.equal(
      close?.replyText,
      "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'prio' in vhost '/' of queue type rabbit_quorum_queue",
    );
  });
});
