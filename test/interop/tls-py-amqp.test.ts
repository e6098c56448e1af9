import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";
import { seededDataDir } from "../support/seeded-definitions.js";
import { type CertFiles, createTestPki, type TestPki, tlsArgs } from "../support/tls-certs.js";
import { warrenOnly } from "../support/warren-only.js";

// py-amqp 5.1 (Debian's python3-amqp, the transport under Celery and kombu) over
// amqps with a client certificate, as its own TLS tests connect: py-amqp takes the
// first mechanism the server offers from its own order (GSSAPI, EXTERNAL, AMQPLAIN,
// PLAIN). Offered EXTERNAL, it logs in as the certificate, so the server must offer
// EXTERNAL only when the operator asked for it, as RabbitMQ does. The scenarios are in
// python/amqp_tls_scenarios.py.

const skip = warrenOnly("Warren is started with TLS flags");
const CAROL_PASSWORD = "carol-over-tls";
const LOGIN_REFUSED =
  /^\(0, 0\): \(403\) ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN\. For details see the broker logfile\.$/;

let pki: TestPki;
const brokers: BrokerUnderTest[] = [];
const dataDirs: string[] = [];

/** "carol" logs in with a password; "dave" has none (EXTERNAL only). */
async function start(extraArgs: readonly string[] = []): Promise<BrokerUnderTest> {
  const dataDir = seededDataDir([
    { name: "carol", password: CAROL_PASSWORD, permission: [".*", ".*", ".*"] },
    { name: "dave", permission: [".*", ".*", ".*"] },
  ]);
  dataDirs.push(dataDir);
  const b = await startBroker({ dataDir, args: [...tlsArgs(pki, "peer"), ...extraArgs] });
  brokers.push(b);
  return b;
}

function pyAmqp<T = Record<string, unknown>>(
  scenario: string,
  broker: BrokerUnderTest,
  client: CertFiles,
  password = CAROL_PASSWORD,
  loginMethod?: "AMQPLAIN",
): Promise<T> {
  const args = [pki.ca, client.cert, client.key, "carol", password];
  if (loginMethod) args.push(loginMethod);
  return runPythonScenario<T>(
    "amqp_tls_scenarios.py",
    scenario,
    `127.0.0.1:${broker.tlsPort}`,
    args,
  );
}

interface ConnectError {
  readonly error: string | null;
  readonly code: number | null;
  readonly detail: string;
}

before(() => {
  if (!skip) pki = createTestPki();
});

after(async () => {
  for (const b of brokers) await b.stop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  pki?.remove();
});

describe("py-amqp over amqps with a client certificate, default mechanisms", { skip }, () => {
  let broker: BrokerUnderTest;
  before(async () => {
    broker = await start();
  });

  test("logs in with its password (AMQPLAIN), not as the certificate, and messages flow", async () => {
    // The certificate's CN names no user: offered EXTERNAL, py-amqp would take it and get 403.
    assert.deepEqual(await pyAmqp("round_trip", broker, pki.client("py-amqp-client")), {
      offered: ["PLAIN", "AMQPLAIN"],
      body: "over amqps from py-amqp",
    });
    await broker.waitForLog((l) =>
      String(l.msg).includes("user 'carol' authenticated and granted access to vhost '/'"),
    );
  });
});

describe("py-amqp over amqps with EXTERNAL turned on", { skip }, () => {
  let broker: BrokerUnderTest;
  before(async () => {
    broker = await start([
      "--auth-mechanisms",
      "PLAIN,AMQPLAIN,EXTERNAL",
      "--ssl-cert-login-from",
      "common_name",
    ]);
  });

  test("logs in as the user its certificate's CN names, with no password", async () => {
    assert.deepEqual(await pyAmqp("round_trip", broker, pki.client("dave"), "not-used"), {
      offered: ["PLAIN", "AMQPLAIN", "EXTERNAL"],
      body: "over amqps from py-amqp",
    });
    await broker.waitForLog((l) =>
      String(l.msg).includes("user 'dave' authenticated and granted access to vhost '/'"),
    );
  });
});

describe("py-amqp over amqps and the failed-login cool-off", { skip }, () => {
  test("a client that retries after ten refused logins gets 403 with RabbitMQ's text, never a TLS error", async () => {
    const broker = await start();
    const cert = pki.client("py-amqp-client");
    // AMQPLAIN named (py-amqp picks it here by default too), so that this test is about
    // the cool-off alone.
    for (let i = 0; i < 10; i++) {
      const r = await pyAmqp<ConnectError>("connect_error", broker, cert, `wrong-${i}`, "AMQPLAIN");
      assert.equal(r.error, "AccessRefused", r.detail);
      assert.match(r.detail, LOGIN_REFUSED);
    }
    // Cooling off now: even the right password gets the refused-login answer, and the log says why.
    const r = await pyAmqp<ConnectError>("connect_error", broker, cert, CAROL_PASSWORD, "AMQPLAIN");
    assert.deepEqual([r.error, r.code], ["AccessRefused", 403], r.detail);
    assert.match(r.detail, LOGIN_REFUSED);
    await broker.waitForLog((l) =>
      /AMQPLAIN login refused: too many failed logins from 127\.0\.0\.1; refused for another \d+ s$/.test(
        String(l.msg),
      ),
    );
    assert.equal(
      broker.logs.some((l) => String(l.msg).startsWith("TLS server: error during handshake")),
      false,
      "every TLS handshake completed",
    );
  });
});
