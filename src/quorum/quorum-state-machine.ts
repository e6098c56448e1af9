/**
 * The quorum queue machine as a Raft group's ReplicatedStateMachine: decodes each committed
 * command, applies it, and hands the effects to whoever carries them out (the runtime on the
 * leader; nobody on followers). Noop and membership entries change nothing.
 */
import type { ReplicatedStateMachine } from "../cluster/replicated-state-machine.js";
import type { LogEntry, Snapshot } from "../raft/index.js";
import { decodeQuorumCommand, type QuorumConfig } from "./quorum-commands.js";
import type { QuorumApplyResult, QuorumMachine } from "./quorum-machine.js";
import { decodeQuorumSnapshot, encodeQuorumSnapshot } from "./quorum-snapshot.js";

/** What a non-command entry answers (nobody proposes those through this machine). */
const NOTHING: QuorumApplyResult = { reply: { type: "done" }, effects: [] };

export interface QuorumEffectSink {
  /** Called after every applied command with its effects (empty lists are not reported). */
  applied(result: QuorumApplyResult, index: number): void;
  /** The state was replaced (a snapshot installed or restored). */
  restored?(machine: QuorumMachine): void;
}

/** ra's default: no snapshot before this many entries since the last one. */
const MIN_ENTRIES_BETWEEN_SNAPSHOTS = 4_096;

export class QuorumStateMachine implements ReplicatedStateMachine<QuorumApplyResult> {
  machine: QuorumMachine;
  /** Command bytes applied since the last snapshot: what the log holds that a snapshot would drop. */
  private bytesSinceSnapshot = 0;

  /**
   * `initialConfig`: a new group's settings before any command (from the declaration's
   * arguments, the same on every member), so that what clients send before the leader's first
   * config command is already held to them.
   */
  constructor(
    machine: QuorumMachine,
    private readonly sink: QuorumEffectSink | undefined,
    private readonly initialConfig?: QuorumConfig,
  ) {
    this.machine = machine;
    if (initialConfig !== undefined) machine.config = initialConfig;
  }

  apply(entry: LogEntry): QuorumApplyResult {
    if (entry.kind !== "command") return NOTHING;
    this.bytesSinceSnapshot += entry.data.byteLength;
    const result = this.machine.apply(entry.index, decodeQuorumCommand(entry.data));
    if (result.effects.length > 0) this.sink?.applied(result, entry.index);
    return result;
  }

  /**
   * A snapshot holds every message the queue holds: it is taken once the log since the last
   * one holds at least as many bytes (and ra's 4,096 entries), so the log stays within about
   * twice what the queue holds and snapshotting costs O(1) per byte that passed through.
   */
  snapshotDue(entriesSince: number): boolean {
    if (entriesSince < MIN_ENTRIES_BETWEEN_SNAPSHOTS) return false;
    const m = this.machine;
    return this.bytesSinceSnapshot >= m.readyBytes + m.checkedOutBytes;
  }

  snapshot(): Uint8Array {
    this.bytesSinceSnapshot = 0;
    return encodeQuorumSnapshot(this.machine);
  }

  restore(snapshot: Snapshot): void {
    this.bytesSinceSnapshot = 0;
    this.machine = decodeQuorumSnapshot(snapshot.data);
    if (snapshot.data.byteLength === 0 && this.initialConfig !== undefined)
      this.machine.config = this.initialConfig;
    this.sink?.restored?.(this.machine);
  }
}
