import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MessageQueue } from "../../src/queue/message-queue.js";
import { Prng } from "../sim/prng.js";
import { runCampaign } from "./fuzz-campaign.js";
import { loadCorpus } from "./fuzz-corpus.js";
import { FuzzTarget } from "./fuzz-target.js";
import { generatedSession } from "./generated-sessions.js";

const corpus = loadCorpus();

test("the corpus holds sessions recorded from every client library", () => {
  const clients = new Set(corpus.map((c) => c.name.split("-")[0]));
  for (const client of ["amqplib", "cloudamqp", "rabbitmq", "pika", "kombu", "amqp"])
    assert.ok(clients.has(client), `no recorded session from ${client}`);
});

test("every recorded session replays unchanged without breaking a rule", async () => {
  const target = new FuzzTarget();
  for (const session of corpus) {
    const verdict = await target.run(session.bytes, new Prng(1));
    assert.deepEqual(verdict.violations, [], session.name);
    // The client logged in and its connection stayed open until the socket closed.
    assert.equal(verdict.outcome, "open until the socket closed", session.name);
  }
});

test("20,000 mutated and generated sessions break no rule and leave the bystander working", async () => {
  const result = await runCampaign({ count: 20_000, seed: 20261201, corpus });
  const report = result.findings
    .slice(0, 5)
    .map((f) => `input ${f.index} (${f.source}):\n  ${f.violations.join("\n  ")}`);
  assert.deepEqual(report, []);
  assert.equal(result.inputs, 20_000);
  // The inputs reach deep enough to draw every kind of answer, not only framing errors.
  for (const outcome of [
    "connection.close 501",
    "connection.close 503",
    "connection.close 505",
    "open until the socket closed",
  ])
    assert.ok(
      (result.outcomes[outcome] ?? 0) > 100,
      `${outcome}: ${JSON.stringify(result.outcomes)}`,
    );
  for (const code of ["403", "404", "406"])
    assert.ok(
      (result.channelCloses[code] ?? 0) > 10,
      `channel.close ${code}: ${JSON.stringify(result.channelCloses)}`,
    );
});

test("sessions generated from the spec break no rule (fast-check, shrinking on failure)", async () => {
  const target = new FuzzTarget();
  await fc.assert(
    fc.asyncProperty(generatedSession, fc.integer(), async (session, seed) => {
      const verdict = await target.run(session, new Prng(seed));
      assert.deepEqual(verdict.violations, []);
    }),
    { numRuns: 500, seed: 20261201 },
  );
});

test("the fuzz target reports a crash planted in a queue operation", async () => {
  const purge = MessageQueue.prototype.purge;
  MessageQueue.prototype.purge = () => {
    throw new TypeError("planted: cannot read properties of undefined");
  };
  try {
    const session = corpus.find((c) => c.name === "amqplib-topology-and-messages")!;
    const verdict = await new FuzzTarget().run(session.bytes, new Prng(1));
    assert.ok(
      verdict.violations.some((v) => v.includes("541 INTERNAL_ERROR")),
      `no 541 reported: ${verdict.violations.join("; ")}`,
    );
    assert.ok(verdict.violations.some((v) => v.includes("planted: cannot read properties")));
  } finally {
    MessageQueue.prototype.purge = purge;
  }
});
