import type { Prng } from "../sim/prng.js";
import { METHOD_ARBITRARIES } from "../support/method-arbitraries.js";
import { joinSession, type SessionParts, splitSession } from "./session-frames.js";

/**
 * Mutation operators for recorded sessions, in the manner of AFL's havoc stage but
 * aware of AMQP framing: some damage bytes anywhere, some change one field of a frame
 * (type, channel, size, end octet, method id, body size), some rearrange whole frames
 * or splice in frames from another session. A mutant is 1 to 4 operators stacked.
 */
export type Mutation = (rng: Prng, parts: SessionParts, donors: readonly SessionParts[]) => void;

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xce, 0xff];
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 131072, 131073];
const METHOD_IDS = METHOD_ARBITRARIES.map((m) => m.id);

/** A frame to work on, copied so the corpus is never changed in place. */
function pickFrame(rng: Prng, parts: SessionParts): number | undefined {
  if (parts.frames.length === 0) return undefined;
  const i = rng.int(0, parts.frames.length - 1);
  parts.frames[i] = Buffer.from(parts.frames[i]!);
  return i;
}

function withFrame(fn: (rng: Prng, frame: Buffer) => Buffer | undefined): Mutation {
  return (rng, parts) => {
    const i = pickFrame(rng, parts);
    if (i === undefined) return;
    const out = fn(rng, parts.frames[i]!);
    if (out) parts.frames[i] = out;
  };
}

export const MUTATIONS: Record<string, Mutation> = {
  flipBit: withFrame((rng, f) => {
    const at = rng.int(0, f.length - 1);
    f[at] = f[at]! ^ (1 << rng.int(0, 7));
    return undefined;
  }),
  interestingByte: withFrame((rng, f) => {
    f[rng.int(0, f.length - 1)] = rng.chance(0.7) ? rng.pick(INTERESTING_8) : rng.int(0, 255);
    return undefined;
  }),
  interestingWord: withFrame((rng, f) => {
    if (f.length < 8) return undefined;
    if (rng.chance(0.5)) f.writeUInt16BE(rng.pick(INTERESTING_16), rng.int(0, f.length - 2));
    else f.writeUInt32BE(rng.pick(INTERESTING_32), rng.int(0, f.length - 4));
    return undefined;
  }),
  insertBytes: withFrame((rng, f) => {
    const at = rng.int(0, f.length);
    const extra = Buffer.alloc(rng.int(1, 16));
    for (let i = 0; i < extra.length; i++) extra[i] = rng.int(0, 255);
    return Buffer.concat([f.subarray(0, at), extra, f.subarray(at)]);
  }),
  deleteBytes: withFrame((rng, f) => {
    const at = rng.int(0, f.length - 1);
    return Buffer.concat([f.subarray(0, at), f.subarray(at + rng.int(1, 16))]);
  }),
  truncateFrame: withFrame((rng, f) => f.subarray(0, rng.int(0, f.length - 1))),
  frameType: withFrame((rng, f) => {
    f[0] = rng.pick([0, 1, 2, 3, 4, 8, 9, rng.int(0, 255)]);
    return undefined;
  }),
  frameChannel: withFrame((rng, f) => {
    if (f.length >= 3) f.writeUInt16BE(rng.pick([0, 1, 2, 3, 0xffff, rng.int(0, 0xffff)]), 1);
    return undefined;
  }),
  frameSize: withFrame((rng, f) => {
    if (f.length < 8) return undefined;
    const size = f.readUInt32BE(3);
    f.writeUInt32BE(
      rng.pick([0, size - 1, size + 1, 0xffffffff, 131073, rng.int(0, 300)]) >>> 0,
      3,
    );
    return undefined;
  }),
  frameEnd: withFrame((rng, f) => {
    f[f.length - 1] = rng.pick([0, 0xcd, 0xcf, 0xff, rng.int(0, 255)]);
    return undefined;
  }),
  methodId: withFrame((rng, f) => {
    if (f[0] !== 1 || f.length < 12) return undefined;
    f.writeUInt32BE(rng.chance(0.9) ? rng.pick(METHOD_IDS) : rng.int(0, 0xffffffff) >>> 0, 7);
    return undefined;
  }),
  bodySize: withFrame((rng, f) => {
    if (f[0] !== 2 || f.length < 20) return undefined;
    const size = Number(f.readBigUInt64BE(11));
    const choice = rng.pick([0, 1, size - 1, size + 1, 2 ** 40, 2 ** 53 - 1]);
    f.writeBigUInt64BE(BigInt(Math.max(0, choice)), 11);
    return undefined;
  }),
  dropFrame: (rng, parts) => {
    if (parts.frames.length) parts.frames.splice(rng.int(0, parts.frames.length - 1), 1);
  },
  duplicateFrame: (rng, parts) => {
    if (!parts.frames.length) return;
    const i = rng.int(0, parts.frames.length - 1);
    parts.frames.splice(rng.int(0, parts.frames.length), 0, parts.frames[i]!);
  },
  repeatFrame: (rng, parts) => {
    if (!parts.frames.length) return;
    const i = rng.int(0, parts.frames.length - 1);
    const copies = Array.from({ length: rng.int(2, 40) }, () => parts.frames[i]!);
    parts.frames.splice(i, 0, ...copies);
  },
  swapFrames: (rng, parts) => {
    const n = parts.frames.length;
    if (n < 2) return;
    const i = rng.int(0, n - 1);
    const j = rng.int(0, n - 1);
    [parts.frames[i], parts.frames[j]] = [parts.frames[j]!, parts.frames[i]!];
  },
  spliceFromDonor: (rng, parts, donors) => {
    const donor = rng.pick(donors);
    if (!donor.frames.length) return;
    const from = rng.int(0, donor.frames.length - 1);
    const run = donor.frames.slice(from, from + rng.int(1, 6));
    parts.frames.splice(rng.int(0, parts.frames.length), 0, ...run);
  },
  cutSession: (rng, parts) => {
    parts.frames = parts.frames.slice(0, rng.int(0, parts.frames.length));
    parts.tail = Buffer.alloc(0);
  },
  heartbeat: (rng, parts) => {
    const payload = rng.chance(0.5) ? Buffer.alloc(0) : Buffer.alloc(rng.int(1, 8), 0x41);
    const frame = Buffer.alloc(8 + payload.length);
    frame[0] = 8;
    frame.writeUInt16BE(rng.pick([0, 0, 1, 7]), 1);
    frame.writeUInt32BE(payload.length, 3);
    payload.copy(frame, 7);
    frame[frame.length - 1] = 0xce;
    parts.frames.splice(rng.int(0, parts.frames.length), 0, frame);
  },
  protocolHeader: (rng, parts) => {
    const h = Buffer.from(parts.header);
    if (h.length) h[rng.int(0, h.length - 1)] = rng.int(0, 255);
    parts.header = h;
  },
};

const NAMES = Object.keys(MUTATIONS);
/** Header damage ends most sessions at once, so it is drawn less often. */
const WEIGHTED = NAMES.flatMap((n) => (n === "protocolHeader" ? [n] : [n, n, n, n]));

/** A mutant of `seed` and the names of the operators applied, in order. */
export function mutate(
  rng: Prng,
  seed: Buffer,
  donors: readonly SessionParts[],
): { bytes: Buffer; applied: string[] } {
  const parts = splitSession(seed);
  parts.frames = [...parts.frames];
  const applied: string[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    const name = rng.pick(WEIGHTED);
    MUTATIONS[name]!(rng, parts, donors);
    applied.push(name);
  }
  return { bytes: joinSession(parts), applied };
}
