/**
 * Runs the interop suite against Debian's RabbitMQ instead of Warren, to list where the two
 * differ (docs/COMPATIBILITY.md): starts a private RabbitMQ on spare ports (as the bench
 * does), points WARREN_TEST_BROKER_URL at it, runs `tools/run-tests.mjs interop`, stops it.
 *   npm run test:interop:rabbitmq [-- --test-name-pattern=pika]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PrivateEpmd,
  rabbitmqInstalled,
  rabbitmqVersion,
  startRabbitMq,
} from "./lib/rabbitmq-broker.js";

if (!rabbitmqInstalled()) {
  console.error("Debian's rabbitmq-server is not installed (apt-get install rabbitmq-server)");
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), "warren-interop-rabbitmq-"));
const epmd = await PrivateEpmd.start();
let status = 1;
try {
  const { broker } = await startRabbitMq(work, epmd);
  console.log(`RabbitMQ ${rabbitmqVersion()} at ${broker.url}`);
  try {
    const run = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "../../tools/run-tests.mjs"), "interop", ...process.argv.slice(2)],
      { stdio: "inherit", env: { ...process.env, WARREN_TEST_BROKER_URL: broker.url } },
    );
    status = run.status ?? 1;
  } finally {
    await broker.stop();
  }
} finally {
  await epmd.stop();
  rmSync(work, { recursive: true, force: true });
}
process.exit(status);
