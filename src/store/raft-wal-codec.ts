/**
 * The records of the Raft write-ahead log, shared by every group of a node (as ra shares one
 * WAL). The WAL is a segment log (segment-log.ts) in its own format; each record's type is
 * the record type of the shared framing (record-framing.ts), and its payload names its group
 * (all integers little-endian, strings and bytes as u32 length + content):
 *
 *   string groupId | body
 *   entries   (1): u32 count, then per entry: u64 index, u64 term, u8 kind, bytes data
 *   hardState (2): u64 term, u64 commitIndex, u8 hasVote, [string votedFor]
 *   snapshot  (3): u8 mark (1 create, 2 base, 3 install, 4 compact), u64 index, u64 term,
 *                  string membership (JSON)
 *   drop      (4): nothing
 *
 * Snapshot data lives in snapshot files; the WAL only marks where a snapshot took effect.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { EntryKind, HardState, LogEntry, Membership, SnapshotMeta } from "../raft/types.js";
import { ByteReader, ByteWriter } from "./byte-codec.js";
import type { SegmentFormat } from "./segment-format.js";
import type { LogRecord } from "./segment-log.js";

/** The WAL's segments: `wal/000000000001.wal`, each opening with the magic `WARRENR1`. */
export const RAFT_WAL_FORMAT: SegmentFormat = {
  magic: Buffer.from("WARRENR1"),
  suffix: ".wal",
  label: "Raft log",
};

/** What a snapshot mark means on replay (see file-raft-log-store.ts). */
export type SnapshotMark =
  /** A new group: forget any earlier incarnation. */
  | "create"
  /** Checkpoint at the head of a segment: the group exists with this snapshot. */
  | "base"
  /** A snapshot from the leader replaced the whole log. */
  | "install"
  /** A local snapshot replaced the log prefix up to it. */
  | "compact";

export type WalRecord =
  | { readonly type: "entries"; readonly groupId: GroupId; readonly entries: readonly LogEntry[] }
  | { readonly type: "hardState"; readonly groupId: GroupId; readonly hardState: HardState }
  | {
      readonly type: "snapshot";
      readonly groupId: GroupId;
      readonly mark: SnapshotMark;
      readonly meta: SnapshotMeta;
    }
  | { readonly type: "drop"; readonly groupId: GroupId };

const TYPE_CODES = { entries: 1, hardState: 2, snapshot: 3, drop: 4 } as const;
const MARKS: readonly SnapshotMark[] = ["create", "base", "install", "compact"];
const KINDS: readonly EntryKind[] = ["command", "noop", "membership"];

export function encodeWalRecord(record: WalRecord): LogRecord {
  const w = new ByteWriter().string(record.groupId);
  switch (record.type) {
    case "entries":
      w.u32(record.entries.length);
      for (const entry of record.entries) {
        w.u64(entry.index).u64(entry.term).u8(KINDS.indexOf(entry.kind)).bytes(entry.data);
      }
      break;
    case "hardState": {
      const { term, commitIndex, votedFor } = record.hardState;
      w.u64(term)
        .u64(commitIndex)
        .u8(votedFor === null ? 0 : 1);
      if (votedFor !== null) w.string(votedFor);
      break;
    }
    case "snapshot":
      w.u8(MARKS.indexOf(record.mark) + 1)
        .u64(record.meta.index)
        .u64(record.meta.term)
        .string(encodeMembershipJson(record.meta.membership));
      break;
    case "drop":
      break;
  }
  return { type: TYPE_CODES[record.type], payload: w.finish() };
}

/**
 * Whether a record found while resynchronising past damage could be a WAL record: a known
 * type, and a payload that starts with a group id that fits in it.
 */
export function plausibleWalRecord(type: number, payload?: Buffer): boolean {
  if (type < TYPE_CODES.entries || type > TYPE_CODES.drop) return false;
  if (payload === undefined) return true;
  return payload.length >= 4 && 4 + payload.readUInt32LE(0) <= payload.length;
}

export function decodeWalRecord(code: number, payload: Buffer): WalRecord {
  const r = new ByteReader(payload);
  const groupId = r.string();
  let record: WalRecord;
  switch (code) {
    case TYPE_CODES.entries: {
      const count = r.u32();
      const entries: LogEntry[] = [];
      for (let i = 0; i < count; i++) {
        const index = r.u64();
        const term = r.u64();
        const kind = KINDS[r.u8()];
        if (kind === undefined) throw new Error("unknown entry kind");
        // Copy: the payload is a view into a whole segment read at recovery.
        entries.push({ index, term, kind, data: new Uint8Array(r.bytes()) });
      }
      record = { type: "entries", groupId, entries };
      break;
    }
    case TYPE_CODES.hardState: {
      const term = r.u64();
      const commitIndex = r.u64();
      const votedFor = r.u8() === 1 ? r.string() : null;
      record = { type: "hardState", groupId, hardState: { term, commitIndex, votedFor } };
      break;
    }
    case TYPE_CODES.snapshot: {
      const mark = MARKS[r.u8() - 1];
      if (mark === undefined) throw new Error("unknown snapshot mark");
      const index = r.u64();
      const term = r.u64();
      const membership = decodeMembershipJson(r.string());
      record = { type: "snapshot", groupId, mark, meta: { index, term, membership } };
      break;
    }
    case TYPE_CODES.drop:
      record = { type: "drop", groupId };
      break;
    default:
      throw new Error(`unknown WAL record type ${code}`);
  }
  if (!r.done()) throw new Error("WAL record has trailing bytes");
  return record;
}

export function encodeMembershipJson(membership: Membership): string {
  return JSON.stringify({ voters: membership.voters, learners: membership.learners });
}

export function decodeMembershipJson(text: string): Membership {
  const parsed = JSON.parse(text) as Membership;
  return { voters: [...parsed.voters], learners: [...parsed.learners] };
}
