import { AmqpError, connectionError } from "../../protocol/amqp-error.js";
import type { FieldTable, FieldValue } from "../../protocol/field-table.js";
import { FRAME_MIN_SIZE, ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import { PRODUCT, VERSION } from "../../version.js";
import type { User } from "../../vhost/users.js";
import type { AmqpConnection } from "../amqp-connection.js";
import { clientInfoFrom, clientProperty, isLoopback } from "../client-info.js";
import { parseCredentials, SUPPORTED_MECHANISMS } from "../sasl.js";
import { EXTERNAL, externalLogin, offeredMechanisms } from "../sasl-external.js";
import { updateSecret } from "./update-secret.js";

const str = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
const bool = (value: boolean): FieldValue => ({ type: "t", value });

/** The capabilities RabbitMQ advertises in connection.start; Warren supports each. */
export const SERVER_CAPABILITIES = [
  "publisher_confirms",
  "exchange_exchange_bindings",
  "basic.nack",
  "consumer_cancel_notify",
  "connection.blocked",
  "consumer_priorities",
  "authentication_failure_close",
  "per_consumer_qos",
  "direct_reply_to",
] as const;

function serverProperties(conn: AmqpConnection): FieldTable {
  const caps: FieldTable = new Map(SERVER_CAPABILITIES.map((c) => [c, bool(true)]));
  return new Map<string, FieldValue>([
    ["capabilities", { type: "F", value: caps }],
    ["cluster_name", str(conn.broker.settings.clusterName)],
    ["copyright", str("Copyright (c) the Warren authors")],
    ["information", str("Licensed under the Apache License 2.0. A RabbitMQ-compatible broker.")],
    ["platform", str(`Node.js ${process.version}`)],
    ["product", str(PRODUCT)],
    ["version", str(VERSION)],
  ]);
}

/** After a valid protocol header: connection.start (AMQP 0-9-1 §2.2.4). */
export function sendStart(conn: AmqpConnection): void {
  conn.broker.connections.add(conn);
  conn.broker.counters.connectionsOpened++;
  conn.broker.connectionEvents.opened?.(conn);
  conn.send(0, {
    name: "connection.start",
    versionMajor: 0,
    versionMinor: 9,
    serverProperties: serverProperties(conn),
    mechanisms: offeredMechanisms(conn.transport, conn.broker.settings.authMechanisms).join(" "),
    locales: "en_US",
  });
}

/** Connection-class methods on channel 0, in handshake order. */
export function handleConnectionMethod(conn: AmqpConnection, method: Method): void {
  switch (method.name) {
    case "connection.start-ok":
      return expect(conn, "start-ok", method, () => startOk(conn, method));
    case "connection.secure-ok":
      // We never send connection.secure (PLAIN and AMQPLAIN are single-step).
      throw unexpectedMethod(method);
    case "connection.tune-ok":
      return expect(conn, "tune-ok", method, () => tuneOk(conn, method));
    case "connection.open":
      return expect(conn, "open", method, () => open(conn, method));
    case "connection.close":
      conn.closedByClient(method.replyCode, method.replyText);
      return;
    case "connection.close-ok":
      // A close-ok we did not ask for: nothing to do but end.
      conn.abort();
      return;
    case "connection.update-secret":
      return updateSecret(conn, method);
    default:
      throw unexpectedMethod(method);
  }
}

function expect(
  conn: AmqpConnection,
  step: AmqpConnection["expecting"],
  method: Method,
  run: () => void,
): void {
  if (conn.expecting !== step) throw unexpectedMethod(method);
  run();
}

function unexpectedMethod(method: Method): AmqpError {
  return connectionError(
    ReplyCode.COMMAND_INVALID,
    `unexpected method ${method.name} on channel 0`,
  );
}

function startOk(conn: AmqpConnection, m: Extract<Method, { name: "connection.start-ok" }>): void {
  conn.client = clientInfoFrom(m.clientProperties);
  conn.authMechanism = m.mechanism;
  const { broker } = conn;
  if (!offeredMechanisms(conn.transport, broker.settings.authMechanisms).includes(m.mechanism)) {
    // RabbitMQ: "invalid" for a mechanism it knows but does not offer here, "unknown" otherwise.
    const known = SUPPORTED_MECHANISMS.includes(m.mechanism) ? "invalid" : "unknown";
    throw connectionError(
      ReplyCode.COMMAND_INVALID,
      `${known} authentication mechanism '${m.mechanism}'`,
    );
  }
  const coolOffMs = broker.loginThrottle.coolingOff(conn.transport.remoteAddress, broker.clock());
  if (coolOffMs > 0) return refuseThrottled(conn, coolOffMs);
  let user: User | undefined;
  if (m.mechanism === EXTERNAL) {
    const login = externalLogin(conn.transport, broker.users, broker.settings.sslCertLoginFrom);
    if ("refused" in login) return refuseLogin(conn, login.refused);
    broker.log.debug(
      { connection: conn.name, user: login.username },
      `auth mechanism TLS extracted username '${login.username}' from peer certificate`,
    );
    user = login.user;
  } else {
    const creds = parseCredentials(m.mechanism, m.response as Buffer);
    user = creds && broker.users.authenticate(creds.username, creds.password);
    if (!creds || !user) {
      refuseLogin(
        conn,
        creds ? `user '${creds.username}' - invalid credentials` : "malformed SASL response",
      );
      return;
    }
  }
  if (
    broker.settings.loopbackUsers.includes(user.name) &&
    !isLoopback(conn.transport.remoteAddress)
  ) {
    refuseLogin(conn, `user '${user.name}' can only connect via localhost`);
    return;
  }
  conn.user = user;
  conn.expecting = "tune-ok";
  conn.send(0, {
    name: "connection.tune",
    channelMax: broker.settings.channelMax,
    frameMax: broker.settings.frameMax,
    heartbeat: broker.settings.heartbeatSec,
  });
}

/**
 * A refused login. With the client's authentication_failure_close capability it gets
 * connection.close 403 (RabbitMQ's text); without it, the socket simply closes,
 * as AMQP 0-9-1 prescribes. The reason goes to the log only: never to the client,
 * and never with the password.
 */
function refuseLogin(conn: AmqpConnection, reason: string): void {
  conn.broker.counters.loginFailures++;
  conn.broker.loginThrottle.failed(conn.transport.remoteAddress, conn.broker.clock());
  conn.broker.log.error(
    { connection: conn.name, peer: conn.peer, mechanism: conn.authMechanism },
    `Error on AMQP connection ${conn.name}: ${conn.authMechanism} login refused: ${reason}`,
  );
  closeRefusedLogin(conn);
}

/**
 * A login from an address cooling off after too many failures (vhost/login-throttle),
 * refused before its credentials are looked at, so guessing learns nothing. It is
 * refused here rather than at accept so that every client, amqps ones included, gets
 * the same answer as for a wrong password (on amqps a refusal at accept could only be
 * a reset during the TLS handshake, which clients report without a reason). Logged
 * as any refused login is; not counted as a failure, so retrying does not prolong
 * the cool-off.
 */
function refuseThrottled(conn: AmqpConnection, coolOffMs: number): void {
  const address = conn.transport.remoteAddress;
  conn.broker.log.error(
    { connection: conn.name, peer: conn.peer, mechanism: conn.authMechanism },
    `Error on AMQP connection ${conn.name}: ${conn.authMechanism} login refused: too many failed logins from ${address}; refused for another ${Math.ceil(coolOffMs / 1000)} s`,
  );
  closeRefusedLogin(conn);
}

function closeRefusedLogin(conn: AmqpConnection): void {
  if (conn.client.capabilities.has("authentication_failure_close")) {
    conn.close(
      ReplyCode.ACCESS_REFUSED,
      `ACCESS_REFUSED - Login was refused using authentication mechanism ${conn.authMechanism}. For details see the broker logfile.`,
    );
  } else {
    conn.closeReason = "login refused";
    conn.abort();
  }
}

/**
 * RabbitMQ's rule for frame_max and channel_max in tune-ok: the client's value is
 * used when it is at least the minimum and at most the server's (0, "no limit",
 * counts as above any limit the server has).
 */
function negotiate(name: string, value: number, min: number, max: number): number {
  if (value !== 0 && value < min) {
    throw negotiationError(
      `negotiated ${name} = ${value} is lower than the minimum allowed value (${min})`,
    );
  }
  if (max !== 0 && (value === 0 || value > max)) {
    // RabbitMQ says "(no limit)" for channel_max only.
    const shown = value === 0 && name === "channel_max" ? "0 (no limit)" : String(value);
    throw negotiationError(
      `negotiated ${name} = ${shown} is higher than the maximum allowed value (${max})`,
    );
  }
  return value;
}

function negotiationError(text: string): AmqpError {
  // Attributed to connection.tune (10/30), as RabbitMQ does.
  return new AmqpError(ReplyCode.NOT_ALLOWED, `NOT_ALLOWED - ${text}`, 10, 30, "connection");
}

/** connection.tune-ok: the client's choices; its heartbeat is taken as sent (0 disables). */
function tuneOk(conn: AmqpConnection, m: Extract<Method, { name: "connection.tune-ok" }>): void {
  const settings = conn.broker.settings;
  const frameMax = negotiate("frame_max", m.frameMax, FRAME_MIN_SIZE, settings.frameMax);
  const channelMax = negotiate("channel_max", m.channelMax, 1, settings.channelMax);
  conn.channelMax = channelMax;
  conn.heartbeatSec = m.heartbeat;
  conn.setFrameMax(frameMax);
  conn.expecting = "open";
}

function open(conn: AmqpConnection, m: Extract<Method, { name: "connection.open" }>): void {
  const { broker } = conn;
  const vhost = broker.vhosts.get(m.virtualHost);
  if (!vhost) {
    throw new AmqpError(
      ReplyCode.NOT_ALLOWED,
      `NOT_ALLOWED - vhost ${m.virtualHost} not found`,
      10,
      40,
      "connection",
    );
  }
  const user = conn.user!;
  if (!broker.users.permission(vhost.name, user.name)) {
    throw new AmqpError(
      ReplyCode.NOT_ALLOWED,
      `NOT_ALLOWED - access to vhost '${vhost.name}' refused for user '${user.name}'`,
      10,
      40,
      "connection",
    );
  }
  broker.admitConnection(vhost, user.name);
  broker.loginThrottle.succeeded(conn.transport.remoteAddress);
  conn.vhost = vhost;
  conn.state = "open";
  conn.expecting = "none";
  conn.send(0, { name: "connection.open-ok" });
  const product = clientProperty(conn.client, "product");
  const connName = clientProperty(conn.client, "connection_name");
  broker.log.info(
    {
      connection: conn.name,
      peer: conn.peer,
      user: user.name,
      vhost: vhost.name,
      client: product,
      connectionName: connName,
    },
    `connection ${conn.name}: user '${user.name}' authenticated and granted access to vhost '${vhost.name}'`,
  );
}
