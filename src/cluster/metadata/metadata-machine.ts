/**
 * The metadata group's replicated state machine (RabbitMQ 4's Khepri, in Warren's terms):
 * every node applies the committed metadata commands, in log order, to its own
 * MetadataState with the one function a single node uses (applyCommand), and runs the
 * effects on its own EffectsRunner, so the live vhosts, exchanges, queues and bindings of
 * every node follow the log. A refused command is refused alike on every node and changes
 * nothing. Deterministic: nothing read but the state and the entry (docs/RAFT.md §2.1).
 *
 * It also tells waiters on this node when an index was applied and what it gave: a follower
 * that forwarded a command to the leader answers its client only once its own state holds
 * the change (read your writes), with its own result.
 */

import type { Log } from "../../log.js";
import type { LogEntry, NodeId, Snapshot } from "../../raft/index.js";
import { applyCommand } from "../../vhost/commands/apply-command.js";
import { CommandRefusedError, type Effect } from "../../vhost/commands/effects.js";
import type { EffectReport } from "../../vhost/commands/effects-runner.js";
import type { MetadataState } from "../../vhost/commands/metadata-state.js";
import { replaceState } from "../../vhost/commands/replace-state.js";
import { captureState, EMPTY_IMAGE, type MetadataImage } from "../../vhost/commands/state-image.js";
import { isMemberCommand, type MemberAddress, type MemberCommand } from "../cluster-members.js";
import type { ReplicatedStateMachine } from "../replicated-state-machine.js";
import { decodeCommand, type MetadataReply, refusalData } from "./metadata-codec.js";

/** The node's side: its state and what carries out effects on it (Broker.metadataReplica). */
export interface MetadataReplica {
  readonly state: MetadataState;
  run(effects: readonly Effect[]): EffectReport;
  /** Where a restore says what it did (the node's log). */
  readonly log?: Pick<Log, "info">;
}

/** What a waiter learns about an index: applied here (with its term and reply), or not knowable. */
export type AppliedAt =
  | { readonly kind: "entry"; readonly term: number; readonly reply: MetadataReply }
  /** A snapshot replaced the state past the index, or its reply is older than the window. */
  | { readonly kind: "covered" };

/** Replies of the most recent entries kept for late waiters (a forward's answer can trail the apply). */
const RECENT_REPLIES = 4096;

/** The snapshot format: JSON of this envelope. */
const SNAPSHOT_FORMAT = "warren-metadata/1";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const NOTHING: MetadataReply = { ok: true, result: null, messagesDropped: 0 };

export class MetadataMachine implements ReplicatedStateMachine<MetadataReply> {
  private applied = 0;
  private readonly recent = new Map<number, { term: number; reply: MetadataReply }>();
  private readonly waiters = new Map<number, ((at: AppliedAt) => void)[]>();
  /**
   * The cluster's members and their cluster addresses, as join_cluster and
   * forget_cluster_node recorded them (cluster-members.ts): replicated so that every node
   * can dial a member that joined after it started.
   */
  readonly members = new Map<NodeId, MemberAddress>();

  constructor(readonly replica: MetadataReplica) {}

  /** The index of the last entry applied here (or of the snapshot restored). */
  appliedIndex(): number {
    return this.applied;
  }

  apply(entry: LogEntry): MetadataReply {
    const reply = entry.kind === "command" ? this.applyCommandEntry(entry.data) : NOTHING;
    this.applied = entry.index;
    this.remember(entry.index, entry.term, reply);
    return reply;
  }

  snapshot(): Uint8Array {
    const image = captureState(this.replica.state);
    const members = [...this.members.values()];
    return encoder.encode(JSON.stringify({ format: SNAPSHOT_FORMAT, image, members }));
  }

  /**
   * Replaces the whole state with the snapshot's (the empty state for a new group's index
   * 0), building and taking down only what differs in the live topology.
   */
  restore(snapshot: Snapshot): void {
    const envelope =
      snapshot.data.byteLength === 0 ? { image: EMPTY_IMAGE } : parseSnapshot(snapshot.data);
    const image = envelope.image;
    this.members.clear();
    for (const m of envelope.members ?? []) this.members.set(m.name, m);
    const effects = replaceState(this.replica.state, image);
    // A new group's empty state is not exported over definitions.json: what a node had
    // before it joined stays readable there until the group's first change.
    this.replica.run(
      snapshot.meta.index === 0 ? effects.filter((e) => e.kind !== "persist") : effects,
    );
    this.applied = snapshot.meta.index;
    if (snapshot.meta.index > 0) {
      const queues = image.vhosts.reduce((n, v) => n + v.queues.length, 0);
      const changed = effects.filter((e) => e.kind !== "log" && e.kind !== "persist").length;
      this.replica.log?.info(
        {
          index: snapshot.meta.index,
          term: snapshot.meta.term,
          vhosts: image.vhosts.length,
          queues,
          changed,
        },
        `metadata restored from the metadata group's snapshot at index ${snapshot.meta.index} ` +
          `(${image.vhosts.length} vhosts, ${queues} queues); ${changed} changes to the live topology`,
      );
    }
    this.recent.clear();
    for (const index of [...this.waiters.keys()]) {
      if (index <= this.applied) this.settle(index, { kind: "covered" });
    }
  }

  /**
   * Calls back once the entry at `index` is applied here: at once if it already was
   * (with its reply while it is among the recent ones). Returns a cancel.
   */
  whenApplied(index: number, onApplied: (at: AppliedAt) => void): () => void {
    if (index <= this.applied) {
      const known = this.recent.get(index);
      onApplied(known ? { kind: "entry", ...known } : { kind: "covered" });
      return () => {};
    }
    const list = this.waiters.get(index) ?? [];
    list.push(onApplied);
    this.waiters.set(index, list);
    return () => {
      const at = list.indexOf(onApplied);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0 && this.waiters.get(index) === list) this.waiters.delete(index);
    };
  }

  private applyCommandEntry(data: Uint8Array): MetadataReply {
    const command = decodeCommand(data);
    if (command instanceof CommandRefusedError) return { ok: false, refusal: refusalData(command) };
    const typed = command as { readonly type: string };
    if (isMemberCommand(typed)) return this.applyMemberCommand(typed);
    const outcome = applyCommand(this.replica.state, command);
    if (!outcome.ok) {
      const refused: MetadataReply = { ok: false, refusal: refusalData(outcome.error) };
      return outcome.limit === undefined ? refused : { ...refused, limit: outcome.limit };
    }
    const report = this.replica.run(outcome.effects);
    return { ok: true, result: outcome.result, messagesDropped: report.messagesDropped };
  }

  /** The member list's commands change nothing else; every node applies them alike. */
  private applyMemberCommand(command: MemberCommand): MetadataReply {
    if (command.type === "cluster.member.put")
      this.members.set(command.member.name, command.member);
    else this.members.delete(command.name);
    return NOTHING;
  }

  private remember(index: number, term: number, reply: MetadataReply): void {
    this.recent.set(index, { term, reply });
    if (this.recent.size > RECENT_REPLIES) this.recent.delete(this.recent.keys().next().value!);
    this.settle(index, { kind: "entry", term, reply });
  }

  private settle(index: number, at: AppliedAt): void {
    const list = this.waiters.get(index);
    if (list === undefined) return;
    this.waiters.delete(index);
    for (const onApplied of list) onApplied(at);
  }
}

/**
 * The image a snapshot holds. A snapshot is written by a node of the group, so one that
 * does not parse is damage the log store's CRCs did not catch, or a foreign format: the
 * node must not go on with a state it cannot know, so this throws (loudly, as a bug does).
 */
function parseSnapshot(data: Uint8Array): {
  image: MetadataImage;
  members?: readonly MemberAddress[];
} {
  const envelope = JSON.parse(decoder.decode(data)) as {
    format?: unknown;
    image?: MetadataImage;
    members?: MemberAddress[];
  };
  if (envelope.format !== SNAPSHOT_FORMAT || envelope.image === undefined)
    throw new Error(`metadata snapshot of unknown format ${JSON.stringify(envelope.format)}`);
  // Snapshots written before the member list existed have none.
  return { image: envelope.image, members: envelope.members ?? [] };
}
