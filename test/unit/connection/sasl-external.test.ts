import assert from "node:assert/strict";
import { test } from "node:test";
import type { Log } from "../../../src/log.js";
import { silentLog } from "../../../src/log.js";
import { PROTOCOL_HEADER } from "../../../src/protocol/generated/constants.js";
import type { Method } from "../../../src/protocol/generated/methods.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { type BrokerSettings, DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient } from "../../support/in-process-client.js";

// SASL EXTERNAL as RabbitMQ's rabbitmq_auth_mechanism_ssl: offered only when the
// operator lists it (auth_mechanisms), and then only on amqps connections with a
// verified client certificate, whose subject (or CN, ssl_cert_login_from =
// common_name) names the user; no password is checked.

const WITH_EXTERNAL: Partial<BrokerSettings> = {
  authMechanisms: ["PLAIN", "AMQPLAIN", "EXTERNAL"],
  sslCertLoginFrom: "common_name",
};

function brokerWithUser(
  log: Log = silentLog,
  settings: Partial<BrokerSettings> = WITH_EXTERNAL,
): Broker {
  const broker = new Broker({ ...DEFAULT_SETTINGS, ...settings }, log, systemSources);
  broker.bootstrapDefaults();
  broker.addUser("alice", "not-used-by-external");
  broker.users.setPermission("/", "alice", { configure: ".*", write: ".*", read: ".*" });
  return broker;
}

function startOk(client: InProcessClient, mechanism: string): Method[] {
  client.send(PROTOCOL_HEADER);
  client.method(0, {
    name: "connection.start-ok",
    clientProperties: new Map([
      [
        "capabilities",
        {
          type: "F",
          value: new Map([["authentication_failure_close", { type: "t", value: true }]]),
        },
      ],
    ]),
    mechanism,
    response: Buffer.alloc(0),
    locale: "en_US",
  });
  return client.pump().map((r) => r.method);
}

/** connection.start's mechanisms (a longstr, so it arrives as bytes). */
function mechanisms(methods: Method[]): string | undefined {
  const start = methods.find((m) => m.name === "connection.start");
  return start?.name === "connection.start" ? start.mechanisms.toString() : undefined;
}

const closeOf = (methods: Method[]) => {
  const c = methods.find((m) => m.name === "connection.close");
  return c?.name === "connection.close" ? `${c.replyCode} ${c.replyText}` : undefined;
};

const LOGIN_REFUSED =
  "403 ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. For details see the broker logfile.";

test("a plain connection is offered PLAIN and AMQPLAIN only", () => {
  const client = new InProcessClient(brokerWithUser());
  assert.equal(mechanisms(startOk(client, "PLAIN")), "PLAIN AMQPLAIN");
});

test("an amqps connection without a client certificate is not offered EXTERNAL", () => {
  const client = new InProcessClient(brokerWithUser(), "127.0.0.1", { tls: true });
  assert.equal(mechanisms(startOk(client, "PLAIN")), "PLAIN AMQPLAIN");
});

test("by default a verified client certificate does not bring EXTERNAL: PLAIN and AMQPLAIN only", () => {
  const client = new InProcessClient(brokerWithUser(silentLog, {}), "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "alice", distinguishedName: "CN=alice,O=Warren tests" },
  });
  assert.equal(mechanisms(startOk(client, "PLAIN")), "PLAIN AMQPLAIN");
});

test("EXTERNAL where the operator did not list it is an invalid mechanism (503)", () => {
  const client = new InProcessClient(brokerWithUser(silentLog, {}), "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "alice", distinguishedName: "CN=alice,O=Warren tests" },
  });
  assert.equal(
    closeOf(startOk(client, "EXTERNAL")),
    "503 COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'",
  );
});

test("the mechanisms are offered in the operator's order, and only those", () => {
  const b = brokerWithUser(silentLog, { authMechanisms: ["EXTERNAL", "AMQPLAIN"] });
  const cert = { commonName: "alice", distinguishedName: "CN=alice" };
  const offered = new InProcessClient(b, "127.0.0.1", { tls: true, peerCertificate: cert });
  assert.equal(mechanisms(startOk(offered, "EXTERNAL")), "EXTERNAL AMQPLAIN");
  const plain = new InProcessClient(b);
  assert.equal(
    closeOf(startOk(plain, "PLAIN")),
    "503 COMMAND_INVALID - invalid authentication mechanism 'PLAIN'",
  );
});

test("with EXTERNAL listed, an amqps connection with a verified client certificate is offered it", () => {
  const client = new InProcessClient(brokerWithUser(), "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "alice" },
  });
  assert.equal(mechanisms(startOk(client, "PLAIN")), "PLAIN AMQPLAIN EXTERNAL");
});

test("EXTERNAL logs in the user the certificate's CN names, with no password", () => {
  const client = new InProcessClient(brokerWithUser(), "10.1.2.3", {
    tls: true,
    peerCertificate: { commonName: "alice" },
  });
  const got = startOk(client, "EXTERNAL");
  assert.ok(got.some((m) => m.name === "connection.tune"));
  assert.equal(client.conn.user?.name, "alice");
});

test("EXTERNAL with a CN that names no user is refused with the login text", () => {
  const lines: string[] = [];
  const log = { ...silentLog, error: (_: unknown, msg: string) => lines.push(msg) } as Log;
  const client = new InProcessClient(brokerWithUser(log), "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "mallory" },
  });
  assert.equal(closeOf(startOk(client, "EXTERNAL")), LOGIN_REFUSED);
  assert.ok(
    lines.some((l) => l.includes("EXTERNAL login refused: user 'mallory' - invalid credentials")),
  );
});

test("EXTERNAL with a certificate that has no CN is refused: no name found", () => {
  const lines: string[] = [];
  const log = { ...silentLog, error: (_: unknown, msg: string) => lines.push(msg) } as Log;
  const client = new InProcessClient(brokerWithUser(log), "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: undefined },
  });
  assert.equal(closeOf(startOk(client, "EXTERNAL")), LOGIN_REFUSED);
  assert.ok(lines.some((l) => l.includes("EXTERNAL login refused: no name found")));
});

test("EXTERNAL keeps the loopback rule: guest by certificate from a remote address is refused", () => {
  const client = new InProcessClient(brokerWithUser(), "10.1.2.3", {
    tls: true,
    peerCertificate: { commonName: "guest" },
  });
  assert.equal(closeOf(startOk(client, "EXTERNAL")), LOGIN_REFUSED);
});

test("EXTERNAL where it is not offered is an invalid mechanism (503)", () => {
  const client = new InProcessClient(brokerWithUser(), "127.0.0.1", { tls: true });
  assert.equal(
    closeOf(startOk(client, "EXTERNAL")),
    "503 COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'",
  );
});

test("EXTERNAL logs in the user the certificate's subject names by default (distinguished_name)", () => {
  const b = brokerWithUser(silentLog, { authMechanisms: ["PLAIN", "EXTERNAL"] });
  b.addUser("CN=alice,O=Warren tests", "");
  b.users.setPermission("/", "CN=alice,O=Warren tests", { configure: "", write: "", read: "" });
  const client = new InProcessClient(b, "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "alice", distinguishedName: "CN=alice,O=Warren tests" },
  });
  assert.ok(startOk(client, "EXTERNAL").some((m) => m.name === "connection.tune"));
  assert.equal(client.conn.user?.name, "CN=alice,O=Warren tests");
});

test("in distinguished_name mode the CN alone names no user", () => {
  const b = brokerWithUser(silentLog, { authMechanisms: ["PLAIN", "EXTERNAL"] });
  const client = new InProcessClient(b, "127.0.0.1", {
    tls: true,
    peerCertificate: { commonName: "alice", distinguishedName: "CN=alice,O=Warren tests" },
  });
  assert.equal(closeOf(startOk(client, "EXTERNAL")), LOGIN_REFUSED);
});

test("a mechanism Warren does not know is an unknown mechanism (503)", () => {
  const client = new InProcessClient(brokerWithUser());
  assert.equal(
    closeOf(startOk(client, "SCRAM-SHA-256")),
    "503 COMMAND_INVALID - unknown authentication mechanism 'SCRAM-SHA-256'",
  );
});
