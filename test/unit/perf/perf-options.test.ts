import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type PerfOptions,
  parsePerfArgs,
  parseQueueArgs,
  redactUrl,
  UsageError,
} from "../../../src/perf/perf-options.js";

function parse(...argv: string[]): PerfOptions {
  const o = parsePerfArgs(argv);
  assert.notEqual(o, "help");
  return o as PerfOptions;
}

test("no flags: one publisher, one consumer, 16 B, no confirms, manual ack, 10 s", () => {
  const o = parse();
  assert.equal(o.url, "amqp://guest:guest@127.0.0.1:5672");
  assert.equal(o.publishers, 1);
  assert.equal(o.consumers, 1);
  assert.equal(o.sizeBytes, 16);
  assert.equal(o.confirmWindow, 0);
  assert.equal(o.persistent, false);
  assert.equal(o.durable, false);
  assert.equal(o.queueType, "classic");
  assert.equal(o.queueArgs.size, 0);
  assert.equal(o.queues, 1);
  assert.equal(o.exchange, "direct");
  assert.equal(o.ratePerS, 0);
  assert.equal(o.durationS, 10);
  assert.equal(o.prefetch, 0);
  assert.equal(o.autoAck, false);
  assert.equal(o.multiAckEvery, 1);
  assert.equal(o.keep, false);
});

test("short flags mean what PerfTest users expect", () => {
  const o = parse(
    "-x",
    "3",
    "-y",
    "4",
    "-s",
    "1024",
    "-c",
    "256",
    "-r",
    "2000",
    "-z",
    "30",
    "-q",
    "100",
    "-a",
  );
  assert.equal(o.publishers, 3);
  assert.equal(o.consumers, 4);
  assert.equal(o.sizeBytes, 1024);
  assert.equal(o.confirmWindow, 256);
  assert.equal(o.ratePerS, 2000);
  assert.equal(o.durationS, 30);
  assert.equal(o.prefetch, 100);
  assert.equal(o.autoAck, true);
});

test("--help asks for the usage text", () => {
  assert.equal(parsePerfArgs(["--help"]), "help");
  assert.equal(parsePerfArgs(["-h"]), "help");
});

test("a quorum queue type sets x-queue-type and makes the queues durable", () => {
  const o = parse("--queue-type", "quorum");
  assert.equal(o.queueArgs.get("x-queue-type"), "quorum");
  assert.equal(o.durable, true);
});

test("queue arguments keep integers, booleans and strings apart", () => {
  const args = parseQueueArgs(
    "x-max-length=1000,x-overflow=reject-publish,x-single-active-consumer=true",
  );
  assert.deepEqual(
    [...args],
    [
      ["x-max-length", 1000],
      ["x-overflow", "reject-publish"],
      ["x-single-active-consumer", true],
    ],
  );
});

test("a fractional duration is accepted", () => {
  assert.equal(parse("-z", "0.5").durationS, 0.5);
});

test("bad input is refused with a message naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--publishers", "two"], /--publishers must be an integer/],
    [["--size=-1"], /--size must be an integer of at least 0/],
    [["--queues", "0"], /--queues must be an integer of at least 1/],
    [["--duration", "0"], /--duration must be a positive number/],
    [["--exchange", "topic"], /--exchange must be one of direct, fanout/],
    [["--queue-type", "lazy"], /--queue-type must be one of classic, quorum, stream/],
    [["--queue-args", "x-max-length"], /KEY=VALUE/],
    [["--url", "http://localhost"], /amqp:\/\//],
    [["--url", "not a url"], /not a URL/],
    [["--no-such-flag"], /Unknown option/],
    [["-x", "0", "-y", "0"], /nothing to do/],
    [["-q", "10", "--multi-ack-every", "20"], /must not exceed --prefetch/],
    [["-a", "--multi-ack-every", "5"], /manual ack only/],
    [["-x", "0", "--count", "10"], /--count needs at least one publisher/],
    [["--queue-type", "stream"], /stream queues need manual ack and a --prefetch/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(
      () => parsePerfArgs(argv),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
      argv.join(" "),
    );
  }
});

test("the password never appears in what a run reports", () => {
  assert.equal(redactUrl("amqp://guest:secret@host:5672/vh"), "amqp://guest:***@host:5672/vh");
  assert.equal(redactUrl("amqp://host:5672"), "amqp://host:5672");
});
