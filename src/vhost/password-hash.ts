import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Password hashes in RabbitMQ's format (rabbit_password_hashing_sha256), so users
 * move between brokers in definitions files: base64(salt ++ sha256(salt ++ password))
 * with a 4-byte random salt.
 */
export const HASHING_ALGORITHM = "rabbit_password_hashing_sha256";

export function hashPassword(password: string, salt: Buffer): string {
  const digest = createHash("sha256").update(salt).update(password, "utf8").digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

export function checkPassword(password: string, passwordHash: string): boolean {
  const raw = Buffer.from(passwordHash, "base64");
  if (raw.length !== 4 + 32) return false;
  const salt = raw.subarray(0, 4);
  const expected = Buffer.from(hashPassword(password, salt), "base64");
  return timingSafeEqual(raw, expected);
}
