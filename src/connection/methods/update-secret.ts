import { AmqpError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { Method } from "../../protocol/generated/methods.js";
import type { AmqpConnection } from "../amqp-connection.js";
import { EXTERNAL, externalLogin } from "../sasl-external.js";

type UpdateSecret = Extract<Method, { name: "connection.update-secret" }>;

/** connection.update-secret is class 10, method 70 (RabbitMQ's extension). */
const CLASS_ID = 10;
const METHOD_ID = 70;

/**
 * connection.update-secret (RabbitMQ's extension for expiring credentials such as
 * OAuth 2 tokens), answered as rabbit_reader and rabbit_access_control:update_state do:
 * each backend that authorised the connection decides what the new secret means.
 *
 * - The internal user store (PLAIN, AMQPLAIN) checks a password once, at login; its
 *   state cannot expire (rabbit_auth_backend_internal:state_can_expire() is false), so
 *   any new secret is accepted and ignored, and update-secret-ok is sent.
 * - x509 (EXTERNAL): the credential is the client certificate, which cannot change while
 *   the TLS session lasts, so the secret is ignored too; what is re-checked is that the
 *   name the certificate gives still names a user. A token backend, when Warren has one,
 *   re-validates the token here the same way.
 *
 * Then, as RabbitMQ 4.x does, the user must still have access to the connection's vhost.
 * Before the connection is open the method is out of place: 504 with RabbitMQ's text.
 */
export function updateSecret(conn: AmqpConnection, m: UpdateSecret): void {
  if (conn.state !== "open" || !conn.user || !conn.vhost) {
    throw new AmqpError(
      ReplyCode.CHANNEL_ERROR,
      `CHANNEL_ERROR - unexpected method in connection state ${handshakeState(conn)}`,
      CLASS_ID,
      METHOD_ID,
      "connection",
    );
  }
  const { broker } = conn;
  const username = conn.user.name;
  broker.log.debug(
    { connection: conn.name, user: username, reason: m.reason },
    `connection ${conn.name} of user '${username}': asked to update secret, reason: ${m.reason}`,
  );
  const refusal = backendRefusal(conn);
  if (refusal) {
    broker.log.error(
      { connection: conn.name, user: username, mechanism: conn.authMechanism, reason: refusal },
      `Secret update was refused for user '${username}': ${refusal}`,
    );
    throw notAllowed("New secret was refused by one of the backends");
  }
  // RabbitMQ 4.x re-checks vhost access after a secret update (rabbit_reader).
  if (!broker.users.users.has(username) || !broker.users.permission(conn.vhost.name, username)) {
    throw notAllowed(`access to vhost '${conn.vhost.name}' refused for user '${username}'`);
  }
  broker.log.debug(
    { connection: conn.name, user: username, mechanism: conn.authMechanism, reason: m.reason },
    `connection ${conn.name}: user '${username}' updated secret, reason: ${m.reason}`,
  );
  conn.send(0, { name: "connection.update-secret-ok" });
}

/** Why the backend that logged this connection in refuses the update, or undefined. */
function backendRefusal(conn: AmqpConnection): string | undefined {
  if (conn.authMechanism !== EXTERNAL) return undefined; // the internal store: nothing expires
  const login = externalLogin(
    conn.transport,
    conn.broker.users,
    conn.broker.settings.sslCertLoginFrom,
  );
  return "refused" in login ? login.refused : undefined;
}

function notAllowed(text: string): AmqpError {
  return new AmqpError(
    ReplyCode.NOT_ALLOWED,
    `NOT_ALLOWED - ${text}`,
    CLASS_ID,
    METHOD_ID,
    "connection",
  );
}

/** rabbit_reader's connection_state names for the steps before the connection is open. */
function handshakeState(conn: AmqpConnection): string {
  switch (conn.expecting) {
    case "start-ok":
      return "starting";
    case "secure-ok":
      return "securing";
    case "tune-ok":
      return "tuning";
    case "open":
      return "opening";
    default:
      return conn.state;
  }
}
