import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expandTopicPattern, permits } from "../../../src/connection/permissions.js";
import {
  answer,
  outcome,
  permissionFixture,
  queueDeclare,
} from "../../support/permission-fixture.js";

// RabbitMQ's internal backend matches a name with re:run(Name, Pattern): a search,
// not an anchored match, with "" meaning "^$" (rabbit_auth_backend_internal).

describe("permission patterns match as RabbitMQ's re:run does", () => {
  test("a pattern may match anywhere in the name: it is not anchored", () => {
    assert.equal(permits("tmp", "my-tmp-queue"), true);
    assert.equal(permits("tmp", "queue"), false);
  });

  test("^ and $ anchor when the pattern says so", () => {
    assert.equal(permits("^tmp", "my-tmp"), false);
    assert.equal(permits("^tmp", "tmp-1"), true);
    assert.equal(permits("^tmp$", "tmp-1"), false);
  });

  test('"" permits nothing but the empty name, and .* permits everything', () => {
    assert.equal(permits("", "q"), false);
    assert.equal(permits("", ""), true);
    assert.equal(permits(".*", "anything"), true);
  });

  test("RabbitMQ's example '^(amq\\.gen.*|amq\\.default)$' permits server-named queues and the default exchange", () => {
    const pattern = "^(amq\\.gen.*|amq\\.default)$";
    assert.equal(permits(pattern, "amq.gen-abc"), true);
    assert.equal(permits(pattern, "amq.default"), true);
    assert.equal(permits(pattern, "amq.direct"), false);
  });

  test("a pattern that does not compile permits nothing instead of failing the connection", () => {
    assert.equal(permits("[unclosed", "[unclosed"), false);
  });

  test("a user whose configure pattern appears inside a queue name may declare it", async () => {
    const { alice } = permissionFixture({ configure: "tmp", write: "", read: "" });
    alice.method(1, queueDeclare("my-tmp-queue"));
    assert.equal(outcome(await answer(alice)), "queue.declare-ok");
  });
});

describe("topic pattern variables", () => {
  const vars = { username: "alice", vhost: "prod" };

  test("{username} and {vhost} are replaced, every time they occur", () => {
    assert.equal(
      expandTopicPattern("^{vhost}\\.{username}\\.{username}$", vars),
      "^prod\\.alice\\.alice$",
    );
  });

  test("values go in as written, not escaped (as in RabbitMQ)", () => {
    assert.equal(expandTopicPattern("^{username}$", { username: "a.b", vhost: "/" }), "^a.b$");
  });

  test("{client_id} stays as written on AMQP 0-9-1 connections, which have none", () => {
    assert.equal(expandTopicPattern("^{client_id}\\.", vars), "^{client_id}\\.");
  });
});
