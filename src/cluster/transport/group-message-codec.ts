/**
 * Raft messages of many groups on the wire: the payload of a raftBatch frame. Pure.
 * Little-endian; strings and bytes are u32 length + content; flags are one byte, 0 or 1.
 *
 *   batch:    u32 count, then count messages
 *   message:  string groupId | u8 type | string from | string to | u64 term | body
 *     vote (1):              u8 preVote, u64 lastIndex, u64 lastTerm, u8 transfer
 *     voteResponse (2):      u8 preVote, u8 granted
 *     append (3):            u64 prevIndex, u64 prevTerm, u64 commitIndex, u32 count, entries
 *                            entry: u64 index, u64 term, u8 kind, bytes data
 *     appendResponse (4):    u8 success, u64 matchIndex, u64 rejectedIndex, u64 hintIndex,
 *                            u64 hintTerm
 *     heartbeat (5):         u64 commitIndex
 *     heartbeatResponse (6): nothing
 *     snapshot (7):          u64 index, u64 term, u32 voters + strings, u32 learners + strings,
 *                            bytes data
 *     timeoutNow (8):        nothing
 *
 * Every field of src/raft/messages.ts is carried; a test round-trips arbitrary messages. The
 * frame's checksum catches damage; this decoder refuses what no encoder could have written.
 */
import type { GroupMessage } from "../../raft/index.js";
import type { RaftMessage, RaftMessageType } from "../../raft/messages.js";
import type { EntryKind, LogEntry, Snapshot } from "../../raft/types.js";
import { WireError, WireReader } from "./wire-reader.js";
import { WireWriter } from "./wire-writer.js";

const TYPE_CODES: Record<RaftMessageType, number> = {
  vote: 1,
  voteResponse: 2,
  append: 3,
  appendResponse: 4,
  heartbeat: 5,
  heartbeatResponse: 6,
  snapshot: 7,
  timeoutNow: 8,
};
const TYPES_BY_CODE = new Map(
  Object.entries(TYPE_CODES).map(([t, c]) => [c, t as RaftMessageType]),
);
const KINDS: readonly EntryKind[] = ["command", "noop", "membership"];
/** The least bytes one encoded message or entry can take, to bound counts before reading. */
const MIN_MESSAGE_BYTES = 4 + 1 + 4 + 4 + 8;
const MIN_ENTRY_BYTES = 8 + 8 + 1 + 4;

/** Messages encoded back to back in one buffer; message i ends at ends[i]. */
export interface EncodedMessages {
  readonly bytes: Buffer;
  /** The end offset of each message that encoded (messages that failed have none). */
  readonly ends: readonly number[];
  /** The messages that could not be encoded (a bug in their producer), by position. */
  readonly failed: readonly { readonly index: number; readonly error: Error }[];
}

/** Encodes every message it can; a message that cannot be encoded is left out and reported. */
export function encodeGroupMessages(messages: readonly GroupMessage[]): EncodedMessages {
  const w = new WireWriter();
  const ends: number[] = [];
  const failed: { index: number; error: Error }[] = [];
  for (const [index, message] of messages.entries()) {
    const start = w.position();
    try {
      writeGroupMessage(w, message);
      ends.push(w.position());
    } catch (error) {
      w.truncate(start);
      failed.push({ index, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return { bytes: w.finish(), ends, failed };
}

function writeGroupMessage(w: WireWriter, { groupId, message }: GroupMessage): void {
  w.string(groupId)
    .u8(TYPE_CODES[message.type])
    .string(message.from)
    .string(message.to)
    .u64(message.term);
  writeBody(w, message);
}

/** The count that opens a batch payload; the messages' bytes follow it. */
export function batchHeader(count: number): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32LE(count, 0);
  return header;
}

/** A whole batch payload in one buffer (for tests and small batches). */
export function encodeBatch(messages: readonly GroupMessage[]): Buffer {
  const encoded = encodeGroupMessages(messages);
  if (encoded.failed.length > 0) throw encoded.failed[0]!.error;
  return Buffer.concat([batchHeader(messages.length), encoded.bytes]);
}

function writeBody(w: WireWriter, m: RaftMessage): void {
  switch (m.type) {
    case "vote":
      w.u8(flag(m.preVote)).u64(m.lastIndex).u64(m.lastTerm).u8(flag(m.transfer));
      return;
    case "voteResponse":
      w.u8(flag(m.preVote)).u8(flag(m.granted));
      return;
    case "append":
      w.u64(m.prevIndex).u64(m.prevTerm).u64(m.commitIndex).u32(m.entries.length);
      for (const e of m.entries) w.u64(e.index).u64(e.term).u8(kindCode(e.kind)).bytes(e.data);
      return;
    case "appendResponse":
      w.u8(flag(m.success)).u64(m.matchIndex).u64(m.rejectedIndex).u64(m.hintIndex);
      w.u64(m.hintTerm);
      return;
    case "heartbeat":
      w.u64(m.commitIndex);
      return;
    case "snapshot":
      writeSnapshot(w, m.snapshot);
      return;
    case "heartbeatResponse":
    case "timeoutNow":
      return;
  }
}

function writeSnapshot(w: WireWriter, { meta, data }: Snapshot): void {
  w.u64(meta.index).u64(meta.term).u32(meta.membership.voters.length);
  for (const voter of meta.membership.voters) w.string(voter);
  w.u32(meta.membership.learners.length);
  for (const learner of meta.membership.learners) w.string(learner);
  w.bytes(data);
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

function kindCode(kind: EntryKind): number {
  const code = KINDS.indexOf(kind);
  if (code < 0) throw new Error(`unknown entry kind ${kind}`);
  return code;
}

/** The payload's messages; throws WireError for anything an encoder could not have written. */
export function decodeBatch(payload: Buffer): GroupMessage[] {
  const r = new WireReader(payload);
  const count = r.count(MIN_MESSAGE_BYTES, "the message count");
  const messages: GroupMessage[] = [];
  for (let i = 0; i < count; i++) messages.push(readGroupMessage(r));
  r.end("a Raft batch");
  return messages;
}

function readGroupMessage(r: WireReader): GroupMessage {
  const groupId = r.string("a group id");
  const code = r.u8("a message type");
  const type = TYPES_BY_CODE.get(code);
  if (type === undefined) throw new WireError(`unknown Raft message type ${code}`);
  const from = r.string("a sender");
  const to = r.string("a receiver");
  const term = r.u64("a term");
  return { groupId, message: readBody(r, { type, from, to, term }) };
}

interface Head {
  readonly type: RaftMessageType;
  readonly from: string;
  readonly to: string;
  readonly term: number;
}

function readBody(r: WireReader, head: Head): RaftMessage {
  const { from, to, term } = head;
  switch (head.type) {
    case "vote":
      return {
        type: "vote",
        from,
        to,
        term,
        preVote: r.bool("preVote"),
        lastIndex: r.u64("lastIndex"),
        lastTerm: r.u64("lastTerm"),
        transfer: r.bool("transfer"),
      };
    case "voteResponse":
      return { type: "voteResponse", from, to, term, preVote: r.bool(), granted: r.bool() };
    case "append":
      return {
        type: "append",
        from,
        to,
        term,
        prevIndex: r.u64("prevIndex"),
        prevTerm: r.u64("prevTerm"),
        commitIndex: r.u64("commitIndex"),
        entries: readEntries(r),
      };
    case "appendResponse":
      return {
        type: "appendResponse",
        from,
        to,
        term,
        success: r.bool("success"),
        matchIndex: r.u64("matchIndex"),
        rejectedIndex: r.u64("rejectedIndex"),
        hintIndex: r.u64("hintIndex"),
        hintTerm: r.u64("hintTerm"),
      };
    case "heartbeat":
      return { type: "heartbeat", from, to, term, commitIndex: r.u64("commitIndex") };
    case "heartbeatResponse":
      return { type: "heartbeatResponse", from, to, term };
    case "snapshot":
      return { type: "snapshot", from, to, term, snapshot: readSnapshot(r) };
    case "timeoutNow":
      return { type: "timeoutNow", from, to, term };
  }
}

function readEntries(r: WireReader): LogEntry[] {
  const count = r.count(MIN_ENTRY_BYTES, "the entry count");
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const index = r.u64("an entry index");
    const term = r.u64("an entry term");
    const code = r.u8("an entry kind");
    const kind = KINDS[code];
    if (kind === undefined) throw new WireError(`unknown entry kind ${code}`);
    entries.push({ index, term, kind, data: r.bytes("entry data") });
  }
  return entries;
}

function readSnapshot(r: WireReader): Snapshot {
  const index = r.u64("the snapshot index");
  const term = r.u64("the snapshot term");
  const voters = readNames(r, "the voter count");
  const learners = readNames(r, "the learner count");
  const data = r.bytes("snapshot data");
  return { meta: { index, term, membership: { voters, learners } }, data };
}

function readNames(r: WireReader, what: string): string[] {
  const count = r.count(4, what);
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(r.string("a node name"));
  return names;
}
