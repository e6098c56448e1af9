/**
 * Shared pieces of the transport tests: a seeded RandomSource, a log that keeps its lines,
 * fast-check arbitraries for every Raft message, and transports on free loopback ports.
 */
import fc from "fast-check";
import type {
  PeerAddress,
  RandomSource,
  TcpPeerTransportOptions,
} from "../../../../src/cluster/transport/index.js";
import { TcpPeerTransport } from "../../../../src/cluster/transport/index.js";
import type { Log } from "../../../../src/log.js";
import type { GroupMessage, LogEntry, NodeId, RaftMessage } from "../../../../src/raft/index.js";
import { Prng } from "../../../sim/prng.js";

export function seededRandom(seed: number): RandomSource {
  const prng = new Prng(seed);
  return {
    bytes: (n) => Uint8Array.from({ length: n }, () => prng.nextUint32() & 0xff),
    fraction: () => prng.next(),
  };
}

export interface LogLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/** A Log that keeps every line, for assertions on what an operator would read. */
export class CapturingLog implements Log {
  readonly lines: LogLine[] = [];
  debug(fields: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: "debug", fields, msg });
  }
  info(fields: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: "info", fields, msg });
  }
  warn(fields: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: "warn", fields, msg });
  }
  error(fields: Record<string, unknown>, msg: string): void {
    this.lines.push({ level: "error", fields, msg });
  }
  matching(pattern: RegExp): LogLine[] {
    return this.lines.filter((line) => pattern.test(line.msg));
  }
}

// ---------------------------------------------------------------- arbitraries

const u53 = fc.maxSafeNat();
const name = fc.oneof(
  fc.constantFrom("warren@a", "warren@b", "rabbit@höst-1"),
  fc.string({ unit: "grapheme" }),
);
const entry: fc.Arbitrary<LogEntry> = fc.record({
  index: u53,
  term: u53,
  kind: fc.constantFrom("command" as const, "noop" as const, "membership" as const),
  data: fc.uint8Array({ maxLength: 64 }),
});

const envelope = { from: name, to: name, term: u53 };

export const raftMessage: fc.Arbitrary<RaftMessage> = fc.oneof(
  fc.record({
    type: fc.constant("vote" as const),
    ...envelope,
    preVote: fc.boolean(),
    lastIndex: u53,
    lastTerm: u53,
    transfer: fc.boolean(),
  }),
  fc.record({
    type: fc.constant("voteResponse" as const),
    ...envelope,
    preVote: fc.boolean(),
    granted: fc.boolean(),
  }),
  fc.record({
    type: fc.constant("append" as const),
    ...envelope,
    prevIndex: u53,
    prevTerm: u53,
    entries: fc.array(entry, { maxLength: 5 }),
    commitIndex: u53,
  }),
  fc.record({
    type: fc.constant("appendResponse" as const),
    ...envelope,
    success: fc.boolean(),
    matchIndex: u53,
    rejectedIndex: u53,
    hintIndex: u53,
    hintTerm: u53,
  }),
  fc.record({ type: fc.constant("heartbeat" as const), ...envelope, commitIndex: u53 }),
  fc.record({ type: fc.constant("heartbeatResponse" as const), ...envelope }),
  fc.record({
    type: fc.constant("snapshot" as const),
    ...envelope,
    snapshot: fc.record({
      meta: fc.record({
        index: u53,
        term: u53,
        membership: fc.record({
          voters: fc.array(name, { maxLength: 7 }),
          learners: fc.array(name, { maxLength: 3 }),
        }),
      }),
      data: fc.uint8Array({ maxLength: 256 }),
    }),
  }),
  fc.record({ type: fc.constant("timeoutNow" as const), ...envelope }),
);

export const groupMessage: fc.Arbitrary<GroupMessage> = fc.record({
  groupId: fc.oneof(fc.constantFrom("meta", "%2F/orders"), fc.string({ unit: "grapheme" })),
  message: raftMessage,
});

// ---------------------------------------------------------------- live transports

export const SECRET = "a shared cluster secret";

/** A heartbeat from one node to another in a group, small and easy to recognise. */
export function heartbeat(groupId: string, from: NodeId, to: NodeId, term: number): GroupMessage {
  return { groupId, message: { type: "heartbeat", from, to, term, commitIndex: term } };
}

export interface LiveNode {
  readonly id: NodeId;
  readonly transport: TcpPeerTransport;
  readonly address: PeerAddress;
  readonly log: CapturingLog;
  readonly received: GroupMessage[];
}

/** Starts a transport on a free loopback port that records what it receives. */
export async function startNode(
  id: NodeId,
  options: Partial<TcpPeerTransportOptions> = {},
  seed = 1,
): Promise<LiveNode> {
  const log = new CapturingLog();
  const transport = new TcpPeerTransport({
    nodeId: id,
    secret: SECRET,
    listen: { host: "127.0.0.1", port: 0 },
    log,
    random: seededRandom(seed),
    backoff: { initialMs: 20, maxMs: 200 },
    handshakeTimeoutMs: 2_000,
    ...options,
  });
  const received: GroupMessage[] = [];
  transport.onReceive((messages) => received.push(...messages));
  const address = await transport.start();
  return { id, transport, address, log, received };
}

/** Tells every node about every other. */
export function meshOf(nodes: readonly LiveNode[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.addPeer(b.id, b.address);
}

/** Polls until the condition holds, or fails after timeoutMs with what it was waiting for. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function connectedMesh(nodes: readonly LiveNode[]): boolean {
  return nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id)));
}
