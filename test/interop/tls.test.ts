import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import amqp from "amqplib";
import { type Connection, withTimeout } from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { startMgmtBroker } from "../support/mgmt-broker.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { seededDataDir } from "../support/seeded-definitions.js";
import { createTestPki, type TestPki, tlsArgs } from "../support/tls-certs.js";
import { warrenOnly } from "../support/warren-only.js";

// amqps with amqplib (and a raw client to read connection.start), against Warren
// started with a throwaway PKI made by openssl. "alice" has no password: she can
// only log in with EXTERNAL, her certificate's CN. "bob" logs in with PLAIN.
// EXTERNAL is offered only where the operator turns it on (RabbitMQ's auth_mechanisms),
// as these tests do with WITH_EXTERNAL.

const skip = warrenOnly("Warren is started with TLS flags");
const BOB_PASSWORD = "bob-tls-password";
/** RabbitMQ's rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name. */
const WITH_EXTERNAL = [
  "--auth-mechanisms",
  "PLAIN,AMQPLAIN,EXTERNAL",
  "--ssl-cert-login-from",
  "common_name",
];
/** The user RabbitMQ's default (distinguished_name) names for pki.client("dn-user"). */
const DN_USER = "CN=dn-user,O=Warren tests";

let pki: TestPki;

interface TlsBroker {
  readonly broker: BrokerUnderTest;
  readonly dataDir: string;
  /** The management API, when asked for. */
  readonly mgmtUrl?: string;
}

async function startTls(
  verify: "none" | "peer" | "peer-required",
  extraArgs: readonly string[] = [],
  options: { mgmt?: boolean } = {},
): Promise<TlsBroker> {
  const dataDir = seededDataDir([
    { name: "alice", permission: [".*", ".*", ".*"] },
    { name: "bob", password: BOB_PASSWORD, permission: [".*", ".*", ".*"] },
    { name: DN_USER, permission: [".*", ".*", ".*"] },
  ]);
  const args = [...tlsArgs(pki, verify), ...extraArgs];
  if (options.mgmt) {
    const m = await startMgmtBroker({ dataDir, args });
    return { broker: m.broker, dataDir, mgmtUrl: m.mgmtUrl };
  }
  const broker = await startBroker({ dataDir, args });
  return { broker, dataDir };
}

async function stopTls(b: TlsBroker | undefined): Promise<void> {
  await b?.broker.stop();
  if (b) rmSync(b.dataDir, { recursive: true, force: true });
}

/** amqplib over amqps; the server certificate is checked against the test CA. */
function connectTls(
  b: TlsBroker,
  options: { user?: string; client?: { cert: string; key: string }; external?: boolean } = {},
): Promise<Connection> {
  const auth = options.external ? "" : `${options.user ?? "bob"}:${BOB_PASSWORD}@`;
  return withTimeout(
    amqp.connect(`amqps://${auth}127.0.0.1:${b.broker.tlsPort}`, {
      ca: [pki.read(pki.ca)],
      ...(options.client
        ? { cert: pki.read(options.client.cert), key: pki.read(options.client.key) }
        : {}),
      ...(options.external ? { credentials: amqp.credentials.external() } : {}),
    }),
    5000,
    "amqps connect",
  );
}

/** The mechanisms connection.start offers on an amqps connection. */
async function offeredMechanisms(
  b: TlsBroker,
  client?: { cert: string; key: string },
): Promise<string> {
  const raw = await RawAmqpClient.connectTls({
    host: "127.0.0.1",
    port: b.broker.tlsPort!,
    ca: pki.read(pki.ca),
    ...(client ? { cert: pki.read(client.cert), key: pki.read(client.key) } : {}),
  });
  raw.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1"));
  const start = await raw.expect("connection.start");
  raw.destroy();
  return start.mechanisms.toString();
}

/** Publishes through the default exchange and reads the message back. */
async function roundTrip(conn: Connection, body: string): Promise<string | undefined> {
  const ch = await conn.createConfirmChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  ch.sendToQueue(queue, Buffer.from(body));
  await ch.waitForConfirms();
  const got = await ch.get(queue, { noAck: true });
  await ch.close();
  return got ? got.content.toString() : undefined;
}

before(() => {
  if (!skip) pki = createTestPki();
});

after(() => pki?.remove());

describe("amqps with the default mechanisms (PLAIN, AMQPLAIN)", { skip }, () => {
  let b: TlsBroker;
  before(async () => {
    b = await startTls("peer");
  });
  after(() => stopTls(b));

  test("a verified client certificate does not bring EXTERNAL into connection.start", async () => {
    assert.equal(await offeredMechanisms(b, pki.client("alice")), "PLAIN AMQPLAIN");
  });

  test("a client with a certificate logs in with its password", async () => {
    const conn = await connectTls(b, { client: pki.client("alice") });
    assert.equal(await roundTrip(conn, "password over tls"), "password over tls");
    await conn.close();
  });

  test("a client that wants EXTERNAL is told it is not offered", async () => {
    await assert.rejects(
      connectTls(b, { client: pki.client("alice"), external: true }),
      /SASL mechanism EXTERNAL is not provided by the server/,
    );
  });
});

describe("amqps with --tls-verify peer and EXTERNAL on", { skip }, () => {
  let b: TlsBroker;
  before(async () => {
    b = await startTls("peer", WITH_EXTERNAL);
  });
  after(() => stopTls(b));

  test("listens on its own port beside plain AMQP, and logs the TLS listener", async () => {
    assert.ok(b.broker.tlsPort && b.broker.tlsPort !== b.broker.port);
    await b.broker.waitForLog((l) => String(l.msg).startsWith("started TLS (SSL) listener on "));
    const plain = await amqp.connect(b.broker.url);
    await plain.close();
  });

  test("a client without a certificate logs in with PLAIN and messages flow", async () => {
    const conn = await connectTls(b);
    assert.equal(await roundTrip(conn, "over tls"), "over tls");
    await conn.close();
  });

  test("without a client certificate EXTERNAL is not offered", async () => {
    assert.equal(await offeredMechanisms(b), "PLAIN AMQPLAIN");
  });

  test("with a verified client certificate EXTERNAL is offered", async () => {
    assert.equal(await offeredMechanisms(b, pki.client("alice")), "PLAIN AMQPLAIN EXTERNAL");
  });

  test("EXTERNAL logs in the user named by the certificate's CN, without a password", async () => {
    const conn = await connectTls(b, { client: pki.client("alice"), external: true });
    assert.equal(await roundTrip(conn, "as alice"), "as alice");
    await conn.close();
    await b.broker.waitForLog((l) =>
      String(l.msg).includes("user 'alice' authenticated and granted access to vhost '/'"),
    );
  });

  test("PLAIN still works for a client that also presents a certificate", async () => {
    const conn = await connectTls(b, { client: pki.client("alice") });
    assert.equal(await roundTrip(conn, "plain with cert"), "plain with cert");
    await conn.close();
  });

  test("EXTERNAL with a CN that names no user is refused with the login text", async () => {
    await assert.rejects(
      connectTls(b, { client: pki.client("stranger"), external: true }),
      /ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/,
    );
    await b.broker.waitForLog((l) =>
      String(l.msg).includes("EXTERNAL login refused: user 'stranger' - invalid credentials"),
    );
  });

  test("EXTERNAL with a certificate without a CN is refused: no name found", async () => {
    await assert.rejects(
      connectTls(b, { client: pki.nameless, external: true }),
      /ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/,
    );
    await b.broker.waitForLog((l) =>
      String(l.msg).includes("EXTERNAL login refused: no name found"),
    );
  });

  test("a client certificate from a CA the server does not trust is refused", async () => {
    await assert.rejects(connectTls(b, { client: pki.rogue }));
    await b.broker.waitForLog((l) =>
      /^TLS client certificate from 127\.0\.0\.1:\d+ refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/.test(
        String(l.msg),
      ),
    );
  });

  test("a plain AMQP client on the TLS port fails instead of hanging", async () => {
    await assert.rejects(
      withTimeout(
        amqp.connect(`amqp://bob:${BOB_PASSWORD}@127.0.0.1:${b.broker.tlsPort}`),
        15_000,
        "plain on tls",
      ),
    );
  });
});

describe("EXTERNAL with ssl_cert_login_from = distinguished_name (RabbitMQ's default)", {
  skip,
}, () => {
  let b: TlsBroker;
  before(async () => {
    b = await startTls("peer", ["--auth-mechanisms", "PLAIN,EXTERNAL"], { mgmt: true });
  });
  after(() => stopTls(b));

  test("the user is named by the certificate's whole subject, last RDN first", async () => {
    const conn = await connectTls(b, { client: pki.client("dn-user"), external: true });
    assert.equal(await roundTrip(conn, "by dn"), "by dn");
    // The management API shows the subject the same way (RabbitMQ's peer_cert_subject).
    const res = await fetch(`${b.mgmtUrl}/api/connections`, {
      headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
    });
    const rows = (await res.json()) as { user: string; peer_cert_subject: string | null }[];
    assert.deepEqual(
      rows.filter((r) => r.user === DN_USER).map((r) => r.peer_cert_subject),
      [DN_USER],
    );
    await conn.close();
    await b.broker.waitForLog((l) =>
      String(l.msg).includes(`user '${DN_USER}' authenticated and granted access to vhost '/'`),
    );
  });

  test("a certificate whose CN alone names a user is refused", async () => {
    await assert.rejects(
      connectTls(b, { client: pki.client("alice"), external: true }),
      /ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/,
    );
    await b.broker.waitForLog((l) =>
      String(l.msg).includes(
        "EXTERNAL login refused: user 'CN=alice,O=Warren tests' - invalid credentials",
      ),
    );
  });
});

describe("amqps with --tls-verify peer-required", { skip }, () => {
  let b: TlsBroker;
  before(async () => {
    b = await startTls("peer-required", WITH_EXTERNAL);
  });
  after(() => stopTls(b));

  test("a client without a certificate cannot connect", async () => {
    await assert.rejects(async () => {
      const conn = await connectTls(b);
      // With TLS 1.3 the refusal can arrive just after the client's handshake ends.
      await roundTrip(conn, "should not pass");
    });
    await b.broker.waitForLog((l) => String(l.msg).includes("peer did not return a certificate"));
  });

  test("a client certificate from a CA the server does not trust cannot connect", async () => {
    await assert.rejects(connectTls(b, { client: pki.rogue }));
    await b.broker.waitForLog((l) =>
      String(l.msg).includes("client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
    );
  });

  test("a client with a certificate from the CA connects, with EXTERNAL or PLAIN", async () => {
    const byCert = await connectTls(b, { client: pki.client("alice"), external: true });
    assert.equal(await roundTrip(byCert, "required"), "required");
    await byCert.close();
    const byPassword = await connectTls(b, { client: pki.client("alice") });
    assert.equal(await roundTrip(byPassword, "required too"), "required too");
    await byPassword.close();
  });
});

describe("amqps configuration errors", { skip }, () => {
  test("a certificate file that cannot be read stops Warren at start, naming the file", async () => {
    const missing = `${pki.dir}/missing.pem`;
    const dataDir = seededDataDir([]);
    try {
      await assert.rejects(
        startBroker({
          dataDir,
          args: ["--tls-port", "0", "--tls-cert", missing, "--tls-key", pki.server.key],
        }),
        (e: Error) =>
          e.message.includes(
            `could not start: ENOENT: no such file or directory, open '${missing}'`,
          ),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("amqps and the failed-login cool-off", { skip }, () => {
  test("after ten failed logins the address gets 403 at login, not a TLS error, and the log says why", async () => {
    const b = await startTls("peer");
    try {
      for (let i = 0; i < 10; i++) {
        await assert.rejects(
          amqp.connect(`amqps://bob:wrong-${i}@127.0.0.1:${b.broker.tlsPort}`, {
            ca: [pki.read(pki.ca)],
          }),
          /ACCESS_REFUSED/,
        );
      }
      // The right password now gets the same answer as a wrong one: the handshake
      // completes and the login is refused, so the client can say what happened.
      await assert.rejects(
        connectTls(b),
        /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
      );
      await b.broker.waitForLog((l) =>
        /PLAIN login refused: too many failed logins from 127\.0\.0\.1; refused for another \d+ s$/.test(
          String(l.msg),
        ),
      );
      assert.equal(
        b.broker.logs.some((l) => String(l.msg).startsWith("TLS server: error during handshake")),
        false,
        "no TLS handshake was cut short",
      );
      // Plain AMQP from the same address gets the same answer.
      await assert.rejects(
        amqp.connect(`amqp://bob:${BOB_PASSWORD}@127.0.0.1:${b.broker.port}`),
        /ACCESS_REFUSED/,
      );
    } finally {
      await stopTls(b);
    }
  });
});

describe("amqps with --tls-verify none", { skip }, () => {
  let b: TlsBroker;
  before(async () => {
    b = await startTls("none");
  });
  after(() => stopTls(b));

  test("encrypts without asking for client certificates, so EXTERNAL is never offered", async () => {
    assert.equal(await offeredMechanisms(b, pki.client("alice")), "PLAIN AMQPLAIN");
    const conn = await connectTls(b, { client: pki.client("alice") });
    assert.equal(await roundTrip(conn, "no verify"), "no verify");
    await conn.close();
  });
});
