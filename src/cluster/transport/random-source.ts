/**
 * Where the transport's randomness comes from: handshake nonces and backoff jitter. Injected,
 * so a test can seed it and a failing run can be replayed; the runtime uses the operating
 * system's generator (nonces must be unpredictable, or an eavesdropper could replay a proof).
 */
import { randomBytes } from "node:crypto";

export interface RandomSource {
  /** n fresh bytes. */
  bytes(n: number): Uint8Array;
  /** A number in [0, 1). */
  fraction(): number;
}

export const cryptoRandom: RandomSource = {
  bytes: (n) => randomBytes(n),
  fraction: () => randomBytes(4).readUInt32LE(0) / 2 ** 32,
};
