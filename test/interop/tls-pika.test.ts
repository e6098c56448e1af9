import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { runPythonScenario } from "../support/python-client.js";
import { seededDataDir } from "../support/seeded-definitions.js";
import { type CertFiles, createTestPki, type TestPki, tlsArgs } from "../support/tls-certs.js";
import { warrenOnly } from "../support/warren-only.js";

// pika 1.2 (Debian's python3-pika) over amqps, with and without a client
// certificate, with PLAIN and with EXTERNAL (turned on as RabbitMQ's
// rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name). The scenarios
// are in python/pika_tls_scenarios.py.

const skip = warrenOnly("Warren is started with TLS flags");
const CAROL_PASSWORD = "carol-over-tls";
const WITH_EXTERNAL = [
  "--auth-mechanisms",
  "PLAIN,AMQPLAIN,EXTERNAL",
  "--ssl-cert-login-from",
  "common_name",
];

let pki: TestPki;
const dataDirs: string[] = [];
let peer: BrokerUnderTest;
let required: BrokerUnderTest;

/** "dave" has no password (EXTERNAL only); "carol" logs in with PLAIN. */
function users(): string {
  const dir = seededDataDir([
    { name: "dave", permission: [".*", ".*", ".*"] },
    { name: "carol", password: CAROL_PASSWORD, permission: [".*", ".*", ".*"] },
  ]);
  dataDirs.push(dir);
  return dir;
}

before(async () => {
  if (skip) return;
  pki = createTestPki();
  peer = await startBroker({ dataDir: users(), args: [...tlsArgs(pki, "peer"), ...WITH_EXTERNAL] });
  required = await startBroker({
    dataDir: users(),
    args: [...tlsArgs(pki, "peer-required"), ...WITH_EXTERNAL],
  });
});

after(async () => {
  await peer?.stop();
  await required?.stop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  pki?.remove();
});

function pika<T = Record<string, unknown>>(
  scenario: string,
  broker: BrokerUnderTest,
  client: CertFiles | undefined,
  mechanism: "PLAIN" | "EXTERNAL",
): Promise<T> {
  const auth = mechanism === "PLAIN" ? `carol:${CAROL_PASSWORD}@` : "";
  return runPythonScenario<T>(
    "pika_tls_scenarios.py",
    scenario,
    `amqp://${auth}127.0.0.1:${broker.tlsPort}/%2F`,
    [pki.ca, client?.cert ?? "-", client?.key ?? "-", mechanism],
  );
}

const EXTERNAL_REFUSED =
  "ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. For details see the broker logfile.'";

describe("pika over amqps (--tls-verify peer)", { skip }, () => {
  test("without a client certificate, PLAIN login and messages work", async () => {
    assert.deepEqual(await pika("round_trip", peer, undefined, "PLAIN"), {
      body: "over amqps from pika",
    });
  });

  test("with a client certificate, EXTERNAL logs in the user its CN names", async () => {
    assert.deepEqual(await pika("round_trip", peer, pki.client("dave"), "EXTERNAL"), {
      body: "over amqps from pika",
    });
    await peer.waitForLog((l) => String(l.msg).includes("user 'dave' authenticated"));
  });

  test("EXTERNAL with a certificate for a user that does not exist is refused with 403", async () => {
    const r = await pika<{ error: string; detail: string }>(
      "connect_error",
      peer,
      pki.client("eve"),
      "EXTERNAL",
    );
    assert.equal(r.error, "ProbableAuthenticationError");
    assert.equal(r.detail, EXTERNAL_REFUSED);
  });

  test("EXTERNAL without a client certificate fails in pika: the server does not offer it", async () => {
    const r = await pika<{ error: string; detail: string }>(
      "connect_error",
      peer,
      undefined,
      "EXTERNAL",
    );
    assert.equal(r.error, "AuthenticationError");
    assert.match(r.detail, /EXTERNAL/);
  });
});

describe("pika over amqps (--tls-verify peer-required)", { skip }, () => {
  test("without a client certificate the TLS handshake fails: certificate required", async () => {
    const r = await pika<{ error: string; detail: string }>(
      "connect_error",
      required,
      undefined,
      "PLAIN",
    );
    assert.match(r.detail, /alert certificate required/);
  });

  test("with a certificate from an untrusted CA the connection is dropped", async () => {
    const r = await pika<{ error: string; detail: string }>(
      "connect_error",
      required,
      pki.rogue,
      "PLAIN",
    );
    assert.match(r.detail, /StreamLostError/);
  });

  test("with a client certificate both PLAIN and EXTERNAL work", async () => {
    assert.deepEqual(await pika("round_trip", required, pki.client("dave"), "PLAIN"), {
      body: "over amqps from pika",
    });
    assert.deepEqual(await pika("round_trip", required, pki.client("dave"), "EXTERNAL"), {
      body: "over amqps from pika",
    });
  });
});
