import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { History } from "../../../src/doctor/history.js";
import { silentLog } from "../../../src/log.js";
import { queueView } from "../../../src/mgmt/views/queue-view.js";
import type { FieldTable } from "../../../src/protocol/field-table.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import type { DefinitionsSnapshot } from "../../../src/store/definitions-store.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { restoreSnapshot } from "../../../src/vhost/definitions.js";
import { heldQueueType } from "../../support/held-queue-type.js";
import { type InProcessClient, openClient, testBroker } from "../../support/in-process-client.js";

const held = (): FieldTable =>
  new Map([["x-queue-type", { type: "S", value: Buffer.from("held") }]]);

/** A broker that runs a second queue type, "held", beside classic; a client in confirm mode. */
function setup() {
  const broker = testBroker();
  const type = heldQueueType("held");
  broker.queueTypes.register(type);
  const client = openClient(broker);
  client.method(1, { name: "confirm.select", nowait: false });
  client.pump();
  client.received.length = 0;
  return { broker, type, client };
}

function consume(client: InProcessClient, queue: string, tag: string): void {
  client.method(1, {
    name: "basic.consume",
    queue,
    consumerTag: tag,
    noLocal: false,
    noAck: false,
    exclusive: false,
    noWait: false,
    arguments: new Map(),
  });
}

const names = (client: InProcessClient) => client.pump().map((r) => r.method.name);

describe("the queue-type seam", () => {
  test("a queue type registered by a test is declared with x-queue-type, published to and consumed over AMQP; the confirm waits for its enqueue", () => {
    const { broker, type, client } = setup();
    client.declareQueue(1, "h", { durable: true, arguments: held() });
    assert.deepEqual(names(client), ["queue.declare-ok"]);
    const queue = type.queues[0]!;
    assert.equal(broker.vhosts.get("/")!.queues.get("h"), queue);

    client.publish(1, "", "h", "one");
    client.publish(1, "", "h", "two");
    assert.deepEqual(names(client), [], "no confirm while the queue holds the messages");
    assert.equal(queue.held.length, 2);

    queue.commit(broker.clock());
    const acks = client.pump();
    assert.deepEqual(
      acks.map((r) => r.method),
      [{ name: "basic.ack", deliveryTag: 2, multiple: true }],
      "both confirmed, coalesced, once the queue accepted them",
    );

    consume(client, "h", "c");
    const got = client.pump();
    assert.deepEqual(
      got.map((r) => r.method.name),
      ["basic.consume-ok", "basic.deliver", "basic.deliver"],
    );
    assert.deepEqual(
      got.slice(1).map((r) => r.body!.toString()),
      ["one", "two"],
    );
    client.method(1, { name: "basic.ack", deliveryTag: 2, multiple: true });
    client.pump();
    assert.equal(queue.acked.length, 2, "the acks reached the queue");
    assert.equal(client.conn.state, "open");
  });

  test("a refusal from the queue (a lost majority) nacks the publish", () => {
    const { broker, type, client } = setup();
    client.declareQueue(1, "h", { durable: true, arguments: held() });
    client.pump();
    client.publish(1, "", "h", "lost");
    assert.deepEqual(names(client), []);
    type.queues[0]!.refuse("unavailable");
    assert.deepEqual(
      client.pump().map((r) => r.method),
      [{ name: "basic.nack", deliveryTag: 1, multiple: false, requeue: false }],
    );
    assert.equal(broker.vhosts.get("/")!.queues.get("h")!.messageCount, 0);
  });

  test("a publish routed to a classic queue and a held one is confirmed once both have it", () => {
    const { broker, type, client } = setup();
    client.declareQueue(1, "h", { arguments: held() });
    client.declareQueue(1, "c");
    for (const q of ["h", "c"]) {
      client.method(1, {
        name: "queue.bind",
        queue: q,
        exchange: "amq.fanout",
        routingKey: "",
        noWait: false,
        arguments: new Map(),
      });
    }
    client.pump();
    client.received.length = 0;
    client.publish(1, "amq.fanout", "", "both");
    assert.deepEqual(names(client), [], "the classic queue has it; the held one not yet");
    assert.equal(broker.vhosts.get("/")!.queues.get("c")!.messageCount, 1);
    type.queues[0]!.commit(broker.clock());
    assert.deepEqual(
      client.pump().map((r) => r.method),
      [{ name: "basic.ack", deliveryTag: 1, multiple: false }],
    );
  });

  test("the management view and the stats snapshot come from the queue type", () => {
    const { broker, type, client } = setup();
    client.declareQueue(1, "h", { arguments: held() });
    client.publish(1, "", "h", "x");
    client.pump();
    type.queues[0]!.commit(broker.clock());
    const q = broker.vhosts.get("/")!.queues.get("h")!;
    const none = { policy: undefined, operatorPolicy: undefined, effective: {} };
    const view = queueView(q, "warren@test", new History(), undefined, none) as Record<
      string,
      unknown
    >;
    assert.equal(view.type, "held");
    assert.equal(view.messages_ready, 1);
    assert.equal((view.message_stats as Record<string, unknown>).publish, 1);
  });

  test("a type the node does not run is refused with RabbitMQ's 406, registered ones are not", () => {
    const { client } = setup();
    client.declareQueue(1, "q", {
      arguments: new Map([["x-queue-type", { type: "S", value: Buffer.from("quorum") }]]),
    });
    const close = client.pump().find((r) => r.method.name === "channel.close")!.method;
    assert.deepEqual(close, {
      name: "channel.close",
      replyCode: 406,
      replyText:
        "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': \"unsupported queue type 'quorum'\"",
      classId: 50,
      methodId: 10,
    });
  });

  test("definitions naming a queue type the node does not run are refused at restore, not turned into classic queues", async () => {
    const saved: { snapshot?: DefinitionsSnapshot } = {};
    const persistence = {
      store: undefined as never,
      saveDefinitions: (snapshot: DefinitionsSnapshot) => {
        saved.snapshot = snapshot;
      },
      schedule: (fn: () => void) => fn(),
    };
    const writer = new Broker(DEFAULT_SETTINGS, silentLog, systemSources, persistence);
    writer.queueTypes.register(heldQueueType("held"));
    writer.bootstrapDefaults();
    const client = openClient(writer);
    client.declareQueue(1, "h", { durable: true, arguments: held() });
    client.pump();
    await new Promise((r) => setImmediate(r));
    const snapshot = saved.snapshot!;
    assert.deepEqual(
      snapshot.queues.map((q) => q.name),
      ["h"],
    );

    const without = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    assert.throws(
      () => without.restoringDefinitions(() => restoreSnapshot(without, snapshot)),
      /invalid arg 'x-queue-type' for queue 'h' in vhost '\/': "unsupported queue type 'held'"/,
    );

    const withType = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
    withType.queueTypes.register(heldQueueType("held"));
    withType.restoringDefinitions(() => restoreSnapshot(withType, snapshot));
    assert.equal(withType.vhosts.get("/")!.queues.get("h")!.type, "held");
  });
});
