import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { Prng } from "../sim/prng.js";
import { connect, sleep } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { warrenOnly } from "../support/warren-only.js";
import { loadCorpus } from "./fuzz-corpus.js";
import { generatedSession } from "./generated-sessions.js";
import { mutate } from "./mutations.js";
import { ServerOutputCheck } from "./server-output-check.js";
import { splitSession } from "./session-frames.js";

// The same inputs as fuzz.test.ts, but over real sockets to a real Warren process with
// its file store (real fsyncs, so replies really are deferred), while a healthy client
// publishes with confirms and consumes on the side.

const INPUTS = 400;
const CONCURRENCY = 8;
let broker: BrokerUnderTest;

before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker?.stop();
});

/** Sends one input in frame-sized writes and collects the reply until the broker closes or goes quiet. */
function session(input: Buffer, rng: Prng): Promise<ServerOutputCheck> {
  const check = new ServerOutputCheck();
  return new Promise((resolve) => {
    const socket = net.connect(broker.port, broker.host);
    let quiet: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quiet);
      socket.destroy();
      resolve(check);
    };
    const idle = () => {
      clearTimeout(quiet);
      quiet = setTimeout(finish, 250);
    };
    socket.on("data", (d: Buffer) => {
      check.push([d]);
      idle();
    });
    socket.on("error", finish).on("close", finish);
    socket.on("connect", async () => {
      const { header, frames, tail } = splitSession(input);
      for (const part of [header, ...frames, tail]) {
        if (socket.destroyed) return;
        socket.write(part);
        if (rng.chance(0.3)) await sleep(rng.int(0, 3));
      }
      idle();
    });
  });
}

test(`${INPUTS} fuzzed sessions over TCP break no rule, and a healthy client beside them loses nothing`, {
  skip: warrenOnly("reads Warren's log"),
}, async () => {
  const corpus = loadCorpus();
  const donors = corpus.map((c) => splitSession(c.bytes));
  const rng = new Prng(20261201);
  const generated = fc.sample(generatedSession, { seed: 20261201, numRuns: INPUTS });
  const inputs = Array.from({ length: INPUTS }, (_, i) =>
    i % 3 === 2 ? generated[i]! : mutate(rng, rng.pick(corpus).bytes, donors).bytes,
  );

  const healthy = await connect(broker.url);
  const ch = await healthy.createConfirmChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  const received: string[] = [];
  await ch.consume(queue, (m) => m && received.push(m.content.toString()), { noAck: true });
  let confirmed = 0;
  let fuzzing = true;
  const publishing = (async () => {
    for (let n = 0; fuzzing; n++) {
      ch.sendToQueue(queue, Buffer.from(`healthy ${n}`), { persistent: true });
      await ch.waitForConfirms();
      confirmed = n + 1;
      await sleep(5);
    }
  })();

  const violations: string[] = [];
  const closeCodes = new Set<string>();
  let channelCloses = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < inputs.length) {
        const i = next++;
        const check = await session(inputs[i]!, new Prng(i));
        for (const v of check.violations) violations.push(`input ${i}: ${v}`);
        if (check.connectionClose) closeCodes.add(check.connectionClose);
        channelCloses += check.channelCloses.length;
      }
    }),
  );
  fuzzing = false;
  await publishing;
  await sleep(200);
  await healthy.close();

  assert.deepEqual(violations.slice(0, 10), []);
  // The inputs got past the handshake and drew a range of answers.
  assert.ok(closeCodes.size >= 4, `connection closes seen: ${[...closeCodes]}`);
  assert.ok(channelCloses >= 20, `only ${channelCloses} channel closes`);
  assert.ok(confirmed > 20, `the healthy client published only ${confirmed} messages`);
  assert.equal(received.length, confirmed, "every confirmed message reached the healthy consumer");
  assert.equal(broker.process?.exitCode, null, "the broker is still running");
  const internal = broker.logs.filter((l) => /internal error/i.test(String(l.msg)));
  assert.deepEqual(internal, []);
  // A new client still gets in and round-trips a message.
  const after = await connect(broker.url);
  const ch2 = await after.createChannel();
  const q2 = await ch2.assertQueue("", { exclusive: true });
  ch2.sendToQueue(q2.queue, Buffer.from("after the fuzz"));
  await sleep(50);
  const got = await ch2.get(q2.queue, { noAck: true });
  assert.equal(got ? got.content.toString() : "no message", "after the fuzz");
  await after.close();
});
