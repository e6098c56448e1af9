import { Reader } from "../protocol/wire-reader.js";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The mechanisms that carry a user name and password, checked against the user store. */
export const PASSWORD_MECHANISMS: readonly string[] = ["PLAIN", "AMQPLAIN"];

/**
 * Every mechanism Warren implements, for --auth-mechanisms: RabbitMQ's built-in PLAIN
 * and AMQPLAIN, and EXTERNAL (RabbitMQ's rabbitmq_auth_mechanism_ssl plugin).
 */
export const SUPPORTED_MECHANISMS: readonly string[] = [...PASSWORD_MECHANISMS, "EXTERNAL"];

/**
 * Parses a SASL response. PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd.
 * AMQPLAIN: a field table without its length prefix holding LOGIN and PASSWORD.
 * Returns undefined for a malformed response.
 */
export function parseCredentials(mechanism: string, response: Buffer): Credentials | undefined {
  if (mechanism === "PLAIN") {
    const first = response.indexOf(0);
    const second = first < 0 ? -1 : response.indexOf(0, first + 1);
    if (second < 0) return undefined;
    return {
      username: response.toString("utf8", first + 1, second),
      password: response.toString("utf8", second + 1),
    };
  }
  if (mechanism === "AMQPLAIN") {
    const prefixed = Buffer.allocUnsafe(4 + response.length);
    prefixed.writeUInt32BE(response.length, 0);
    response.copy(prefixed, 4);
    try {
      const table = new Reader(prefixed).table();
      const login = table.get("LOGIN");
      const password = table.get("PASSWORD");
      if (login?.type !== "S" || password?.type !== "S") return undefined;
      return { username: login.value.toString(), password: password.value.toString() };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
