import type { CertLoginFrom } from "../vhost/broker-settings.js";
import type { User, UserStore } from "../vhost/users.js";
import type { Transport } from "./amqp-connection.js";

/**
 * SASL EXTERNAL (RFC 4422 appendix A): the identity comes from outside the AMQP
 * handshake, here the TLS client certificate, as RabbitMQ's
 * rabbitmq_auth_mechanism_ssl does. Offered only when the operator lists it
 * (--auth-mechanisms, RabbitMQ's auth_mechanisms).
 */
export const EXTERNAL = "EXTERNAL";

/**
 * The mechanisms connection.start offers on this transport: the operator's list, in
 * its order, with EXTERNAL only on amqps connections whose client certificate
 * verified against the CA (RabbitMQ 3.x's should_offer), so a client that prefers
 * EXTERNAL is never offered a login that cannot succeed.
 */
export function offeredMechanisms(
  transport: Transport,
  configured: readonly string[],
): readonly string[] {
  return configured.filter((m) => m !== EXTERNAL || transport.peerCertificate !== undefined);
}

export type ExternalLogin =
  | { readonly user: User; readonly username: string }
  | { readonly username: string | undefined; readonly refused: string };

/**
 * EXTERNAL login: the certificate's subject (RabbitMQ's default,
 * ssl_cert_login_from = distinguished_name) or its CN (common_name) names an existing
 * user, with no password check (RabbitMQ ignores the client's response). Refusal
 * reasons are RabbitMQ's (rabbit_auth_mechanism_ssl:init).
 */
export function externalLogin(
  transport: Transport,
  users: UserStore,
  loginFrom: CertLoginFrom,
): ExternalLogin {
  const cert = transport.peerCertificate;
  if (!cert) {
    return { username: undefined, refused: "connection peer presented no TLS (x.509) certificate" };
  }
  const username = loginFrom === "common_name" ? cert.commonName : cert.distinguishedName;
  if (username === undefined) return { username, refused: "no name found" };
  const user = users.users.get(username);
  // rabbit_auth_backend_internal says the same for a missing user as for a wrong password.
  if (!user) return { username, refused: `user '${username}' - invalid credentials` };
  return { user, username };
}
