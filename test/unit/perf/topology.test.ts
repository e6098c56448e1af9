import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAmqpUrl } from "../../../src/perf/amqp-url.js";
import { type PerfOptions, parsePerfArgs } from "../../../src/perf/perf-options.js";
import {
  planTopology,
  queueArgsTable,
  queueForConsumer,
  routesForPublisher,
} from "../../../src/perf/topology.js";

function options(...argv: string[]): PerfOptions {
  return parsePerfArgs(argv) as PerfOptions;
}

test("direct: each queue is reached by its own routing key, publishers start on different queues", () => {
  const t = planTopology(options("--queues", "3"));
  assert.deepEqual(t.queues, ["warren-perf-1", "warren-perf-2", "warren-perf-3"]);
  assert.deepEqual(t.exchange, { name: "warren-perf-direct", type: "direct" });
  assert.deepEqual(
    routesForPublisher(t, 1).map((r) => r.routingKey),
    ["warren-perf-2", "warren-perf-3", "warren-perf-1"],
  );
});

test("fanout: one route that reaches every queue", () => {
  const t = planTopology(options("--queues", "10", "--exchange", "fanout"));
  assert.equal(t.queues.length, 10);
  assert.deepEqual(t.routes, [{ exchange: "warren-perf-fanout", routingKey: "" }]);
  assert.deepEqual(routesForPublisher(t, 7), t.routes);
});

test("consumers spread over the queues round-robin", () => {
  const t = planTopology(options("--queues", "2", "--queue-prefix", "q"));
  assert.deepEqual(
    [0, 1, 2, 3].map((j) => queueForConsumer(t, j)),
    ["q-1", "q-2", "q-1", "q-2"],
  );
});

test("queue arguments become typed field table values", () => {
  const table = queueArgsTable(
    new Map<string, string | number | boolean>([
      ["x-max-length", 10],
      ["x-queue-type", "quorum"],
      ["x-single-active-consumer", true],
    ]),
  );
  assert.deepEqual(table.get("x-max-length"), { type: "l", value: 10n });
  assert.deepEqual(table.get("x-queue-type"), { type: "S", value: Buffer.from("quorum") });
  assert.deepEqual(table.get("x-single-active-consumer"), { type: "t", value: true });
});

test("URLs are read as amqplib reads them", () => {
  assert.deepEqual(parseAmqpUrl("amqp://u:p%40ss@h:5673/my%2Fvhost"), {
    host: "h",
    port: 5673,
    username: "u",
    password: "p@ss",
    vhost: "my/vhost",
  });
  assert.equal(parseAmqpUrl("amqp://h").vhost, "/");
  assert.equal(parseAmqpUrl("amqp://h/").vhost, "/");
  assert.equal(parseAmqpUrl("amqp://h/%2F").vhost, "/");
  assert.equal(parseAmqpUrl("amqp://h").username, "guest");
  assert.equal(parseAmqpUrl("amqp://[::1]:5672").host, "::1");
});
