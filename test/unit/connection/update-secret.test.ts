import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerCertificate } from "../../../src/connection/amqp-connection.js";
import type { Log } from "../../../src/log.js";
import { PROTOCOL_HEADER } from "../../../src/protocol/generated/constants.js";
import type { Method } from "../../../src/protocol/generated/methods.js";
import { systemSources } from "../../../src/runtime/system-sources.js";
import { Broker } from "../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../src/vhost/broker-settings.js";
import { InProcessClient } from "../../support/in-process-client.js";

// connection.update-secret as RabbitMQ answers it (rabbit_reader, and
// rabbit_access_control:update_state): the internal user store accepts and ignores any
// new secret; an x509 (EXTERNAL) login re-checks the name its certificate gives; the
// vhost access is re-checked (RabbitMQ 4.x); before the connection is open it is 504.

interface Line {
  readonly level: keyof Log;
  readonly msg: string;
}

function setup(): { broker: Broker; lines: Line[] } {
  const lines: Line[] = [];
  const record =
    (level: keyof Log) =>
    (_: unknown, msg: string): void => {
      lines.push({ level, msg });
    };
  const log: Log = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
  const broker = new Broker(
    {
      ...DEFAULT_SETTINGS,
      authMechanisms: ["PLAIN", "AMQPLAIN", "EXTERNAL"],
      sslCertLoginFrom: "common_name",
    },
    log,
    systemSources,
  );
  broker.bootstrapDefaults();
  broker.addUser("alice", "alice-password");
  broker.users.setPermission("/", "alice", { configure: ".*", write: ".*", read: ".*" });
  return { broker, lines };
}

function updateSecret(client: InProcessClient, secret: string, reason = "token refresh"): Method[] {
  client.method(0, {
    name: "connection.update-secret",
    newSecret: Buffer.from(secret),
    reason,
  });
  return client.pump().map((r) => r.method);
}

function closeOf(methods: Method[]): string | undefined {
  const c = methods.find((m) => m.name === "connection.close");
  return c?.name === "connection.close"
    ? `${c.replyCode} ${c.replyText} (${c.classId}/${c.methodId})`
    : undefined;
}

/** Logs in by EXTERNAL with a certificate naming alice (CN mode), and opens "/". */
function externalClient(broker: Broker, cert: PeerCertificate): InProcessClient {
  const client = new InProcessClient(broker, "127.0.0.1", { tls: true, peerCertificate: cert });
  client.send(PROTOCOL_HEADER);
  client.method(0, {
    name: "connection.start-ok",
    clientProperties: new Map(),
    mechanism: "EXTERNAL",
    response: Buffer.alloc(0),
    locale: "en_US",
  });
  client.pump();
  client.method(0, {
    name: "connection.tune-ok",
    channelMax: 2047,
    frameMax: 131072,
    heartbeat: 0,
  });
  client.method(0, { name: "connection.open", virtualHost: "/" });
  assert.ok(client.pump().some((r) => r.method.name === "connection.open-ok"));
  return client;
}

test("a password user's update-secret is answered update-secret-ok, whatever the secret", () => {
  const { broker } = setup();
  const client = new InProcessClient(broker);
  client.handshake("alice", "alice-password");
  for (const secret of ["alice-password", "not-her-password", ""]) {
    const got = updateSecret(client, secret);
    assert.deepEqual(
      got.map((m) => m.name),
      ["connection.update-secret-ok"],
    );
  }
  // The connection goes on under the same user, and the password did not change.
  client.openChannel(1);
  assert.equal(client.conn.state, "open");
  assert.equal(client.conn.user?.name, "alice");
  assert.ok(broker.users.authenticate("alice", "alice-password"));
  assert.equal(broker.users.authenticate("alice", "not-her-password"), undefined);
});

test("an accepted update-secret is logged at debug only, with its reason", () => {
  const { broker, lines } = setup();
  const client = new InProcessClient(broker);
  client.handshake("alice", "alice-password");
  lines.length = 0;
  updateSecret(client, "whatever", "rotating");
  assert.deepEqual(
    lines.map((l) => l.level),
    ["debug", "debug"],
  );
  assert.match(lines[0]!.msg, /of user 'alice': asked to update secret, reason: rotating$/);
  assert.match(lines[1]!.msg, /user 'alice' updated secret, reason: rotating$/);
});

test("update-secret before connection.open closes with 504 naming the connection state", () => {
  const { broker } = setup();
  const client = new InProcessClient(broker);
  client.send(PROTOCOL_HEADER);
  client.method(0, {
    name: "connection.start-ok",
    clientProperties: new Map(),
    mechanism: "PLAIN",
    response: Buffer.from("\0alice\0alice-password"),
    locale: "en_US",
  });
  client.pump();
  assert.equal(
    closeOf(updateSecret(client, "early")),
    "504 CHANNEL_ERROR - unexpected method in connection state tuning (10/70)",
  );
});

test("update-secret after tune-ok and before open names the opening state", () => {
  const { broker } = setup();
  const client = new InProcessClient(broker);
  client.send(PROTOCOL_HEADER);
  client.method(0, {
    name: "connection.start-ok",
    clientProperties: new Map(),
    mechanism: "PLAIN",
    response: Buffer.from("\0alice\0alice-password"),
    locale: "en_US",
  });
  client.method(0, {
    name: "connection.tune-ok",
    channelMax: 2047,
    frameMax: 131072,
    heartbeat: 0,
  });
  client.pump();
  assert.equal(
    closeOf(updateSecret(client, "early")),
    "504 CHANNEL_ERROR - unexpected method in connection state opening (10/70)",
  );
});

test("update-secret from a user who lost access to the vhost closes with 530", () => {
  const { broker } = setup();
  const client = new InProcessClient(broker);
  client.handshake("alice", "alice-password");
  broker.users.permissions.get("/")!.delete("alice");
  assert.equal(
    closeOf(updateSecret(client, "new")),
    "530 NOT_ALLOWED - access to vhost '/' refused for user 'alice' (10/70)",
  );
});

test("an EXTERNAL connection's update-secret re-checks its certificate's name: ok while the user exists", () => {
  const { broker } = setup();
  const client = externalClient(broker, { commonName: "alice", distinguishedName: "CN=alice" });
  assert.deepEqual(
    updateSecret(client, "anything").map((m) => m.name),
    ["connection.update-secret-ok"],
  );
});

test("an EXTERNAL connection's update-secret is refused with 530 once its certificate names no user", () => {
  const { broker, lines } = setup();
  const client = externalClient(broker, { commonName: "alice", distinguishedName: "CN=alice" });
  broker.users.users.delete("alice");
  assert.equal(
    closeOf(updateSecret(client, "anything")),
    "530 NOT_ALLOWED - New secret was refused by one of the backends (10/70)",
  );
  assert.ok(
    lines.some(
      (l) =>
        l.level === "error" &&
        l.msg === "Secret update was refused for user 'alice': user 'alice' - invalid credentials",
    ),
  );
});
