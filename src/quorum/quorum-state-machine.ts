/**
 * The quorum queue machine as a Raft group's ReplicatedStateMachine: decodes each committed
 * command, applies it, and hands the effects to whoever carries them out (the runtime on the
 * leader; nobody on followers). Noop and membership entries change nothing.
 */
import type { ReplicatedStateMachine } from "../cluster/replicated-state-machine.js";
import type { LogEntry, Snapshot } from "../raft/index.js";
import { decodeQuorumCommand } from "./quorum-commands.js";
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

export class QuorumStateMachine implements ReplicatedStateMachine<QuorumApplyResult> {
  machine: QuorumMachine;

  constructor(
    machine: QuorumMachine,
    private readonly sink: QuorumEffectSink | undefined,
  ) {
    this.machine = machine;
  }

  apply(entry: LogEntry): QuorumApplyResult {
    if (entry.kind !== "command") return NOTHING;
    const result = this.machine.apply(entry.index, decodeQuorumCommand(entry.data));
    if (result.effects.length > 0) this.sink?.applied(result, entry.index);
    return result;
  }

  snapshot(): Uint8Array {
    return encodeQuorumSnapshot(this.machine);
  }

  restore(snapshot: Snapshot): void {
    this.machine = decodeQuorumSnapshot(snapshot.data);
    this.sink?.restored?.(this.machine);
  }
}
