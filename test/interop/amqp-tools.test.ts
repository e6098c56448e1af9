import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { uniqueName } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runProgram } from "../support/run-program.js";

// Debian's amqp-tools (rabbitmq-c command-line tools): "Debian's amqp-tools can use it".

let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.stop();
});

const tool = (name: string, ...args: string[]) =>
  runProgram(`/usr/bin/${name}`, ["--url", broker.url, ...args], 10_000);

describe("amqp-tools", () => {
  test("amqp-declare-queue, amqp-publish and amqp-get move one message through a queue", async () => {
    const q = uniqueName("tools");
    try {
      const declared = await tool("amqp-declare-queue", "-q", q);
      assert.deepEqual([declared.exitCode, declared.stdout.trim()], [0, q]);
      const published = await tool("amqp-publish", "-r", q, "-b", "hello from amqp-tools");
      assert.equal(published.exitCode, 0, published.stderr);
      const got = await tool("amqp-get", "-q", q);
      assert.deepEqual([got.exitCode, got.stdout], [0, "hello from amqp-tools"]);
      const empty = await tool("amqp-get", "-q", q);
      assert.equal(empty.exitCode, 2, "amqp-get exits 2 on an empty queue");
    } finally {
      await tool("amqp-delete-queue", "-q", q);
    }
  });

  test("amqp-declare-queue with an empty name prints the server-generated name", async () => {
    const declared = await tool("amqp-declare-queue", "-q", "");
    const name = declared.stdout.trim();
    try {
      assert.equal(declared.exitCode, 0, declared.stderr);
      assert.match(name, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
    } finally {
      if (name) await tool("amqp-delete-queue", "-q", name);
    }
  });

  test("amqp-consume runs its command once per message, up to --count", async () => {
    const q = uniqueName("tools-consume");
    try {
      await tool("amqp-declare-queue", "-q", q);
      for (const body of ["one\n", "two\n", "three\n"]) {
        await tool("amqp-publish", "-r", q, "-b", body);
      }
      const consumed = await tool("amqp-consume", "-q", q, "-c", "2", "cat");
      assert.deepEqual([consumed.exitCode, consumed.stdout], [0, "one\ntwo\n"]);
      const left = await tool("amqp-get", "-q", q);
      assert.equal(left.stdout, "three\n", "the third message was not consumed");
    } finally {
      await tool("amqp-delete-queue", "-q", q);
    }
  });

  test("amqp-declare-queue reports an inequivalent redeclaration with the broker's 406 text", async () => {
    const q = uniqueName("tools-durable");
    try {
      await tool("amqp-declare-queue", "-q", q);
      const again = await tool("amqp-declare-queue", "-q", q, "--durable");
      assert.notEqual(again.exitCode, 0);
      assert.equal(
        again.stderr.trim(),
        `queue.declare: server channel error 406, message: PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`,
      );
    } finally {
      await tool("amqp-delete-queue", "-q", q);
    }
  });
});
