import type { User, UserStore } from "../vhost/users.js";
import type { Transport } from "./amqp-connection.js";
import { MECHANISMS } from "./sasl.js";

/**
 * SASL EXTERNAL (RFC 4422 appendix A): the identity comes from outside the AMQP
 * handshake, here the TLS client certificate, as RabbitMQ's
 * rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name does.
 */
export const EXTERNAL = "EXTERNAL";

/**
 * The mechanisms connection.start offers on this transport: EXTERNAL only on amqps
 * connections whose client certificate verified against the CA.
 */
export function offeredMechanisms(transport: Transport): readonly string[] {
  return transport.peerCertificate ? [...MECHANISMS, EXTERNAL] : MECHANISMS;
}

export type ExternalLogin =
  | { readonly user: User; readonly username: string }
  | { readonly username: string | undefined; readonly refused: string };

/**
 * EXTERNAL login: the certificate's CN names an existing user, with no password
 * check (RabbitMQ ignores the client's response). Refusal reasons are RabbitMQ's.
 */
export function externalLogin(transport: Transport, users: UserStore): ExternalLogin {
  const username = transport.peerCertificate?.commonName;
  if (!transport.peerCertificate) {
    return { username, refused: "connection peer presented no TLS (x.509) certificate" };
  }
  if (username === undefined) return { username, refused: "no name found" };
  const user = users.users.get(username);
  // rabbit_auth_backend_internal says the same for a missing user as for a wrong password.
  if (!user) return { username, refused: `user '${username}' - invalid credentials` };
  return { user, username };
}
