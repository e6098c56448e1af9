/**
 * Runs amqp091-go's own test suite (`go test -tags integration`, from Debian's
 * golang-github-rabbitmq-amqp091-go-dev) against a Warren it starts on a free port, and
 * with --rabbitmq also against Debian's RabbitMQ on spare ports, and prints the counts:
 *   npm run test:go-suite [-- --rabbitmq] [-- --only-rabbitmq] [-- --verbose]
 * The exit status is 0 when no test failed or panicked on Warren (on RabbitMQ with
 * --only-rabbitmq). docs/COMPATIBILITY.md keeps the last result.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBroker } from "../test/support/broker-process.js";
import { type GoSuiteResult, runGoClientSuite } from "../test/support/go-client-suite.js";
import {
  PrivateEpmd,
  rabbitmqInstalled,
  rabbitmqVersion,
  startRabbitMq,
} from "./lib/rabbitmq-broker.js";

const args = new Set(process.argv.slice(2));
const verbose = args.has("--verbose");

function report(name: string, r: GoSuiteResult): boolean {
  console.log(
    `${name}: ${r.passed.length} passed, ${r.failed.length} failed, ${r.skipped.length} skipped ` +
      `in ${(r.durationMs / 1000).toFixed(1)} s (go test exit status ${r.exitCode})`,
  );
  if (r.failed.length) console.log(`  failed: ${r.failed.join(", ")}`);
  if (r.skipped.length) console.log(`  skipped: ${r.skipped.join(", ")}`);
  if (r.panic) console.log(`  ${r.panic}`);
  if (r.leakedGoroutines) {
    console.log(`  goleak: ${r.leakedGoroutines} goroutines left running after the tests`);
  }
  if (verbose) console.log(r.output);
  return r.failed.length === 0 && r.panic === undefined;
}

async function onWarren(): Promise<boolean> {
  const broker = await startBroker();
  try {
    return report("Warren", await runGoClientSuite(broker.url));
  } finally {
    await broker.stop();
  }
}

async function onRabbitMq(): Promise<boolean> {
  if (!rabbitmqInstalled()) {
    console.error("Debian's rabbitmq-server is not installed (apt-get install rabbitmq-server)");
    return false;
  }
  const work = mkdtempSync(join(tmpdir(), "warren-go-suite-rabbitmq-"));
  const epmd = await PrivateEpmd.start();
  try {
    const { broker } = await startRabbitMq(work, epmd);
    try {
      return report(`RabbitMQ ${rabbitmqVersion()}`, await runGoClientSuite(broker.url));
    } finally {
      await broker.stop();
    }
  } finally {
    await epmd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

let ok = true;
if (!args.has("--only-rabbitmq")) ok = await onWarren();
if (args.has("--rabbitmq") || args.has("--only-rabbitmq")) {
  const rabbitOk = await onRabbitMq();
  if (args.has("--only-rabbitmq")) ok = rabbitOk;
}
process.exit(ok ? 0 : 1);
