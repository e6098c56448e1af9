/**
 * Many independent Raft groups in one process: one per quorum queue and one for metadata, as
 * RabbitMQ runs many ra servers on one node. The set ticks them together and gathers their
 * Readies into one batch, so the runtime writes every group's entries with one log append
 * and one fdatasync (ra's shared WAL), then sends all messages, grouped per destination node.
 */
import type { RaftMessage } from "./messages.js";
import type { RaftMachine } from "./raft-machine.js";
import type { Ready } from "./ready.js";
import type { NodeId } from "./types.js";

export type GroupId = string;

/** A Raft message addressed to one group on the destination node. */
export interface GroupMessage {
  readonly groupId: GroupId;
  readonly message: RaftMessage;
}

export interface GroupReady {
  readonly groupId: GroupId;
  readonly ready: Ready;
}

/** The effects of every group with something to do, to be carried out as one batch. */
export interface GroupSetReady {
  readonly groups: readonly GroupReady[];
  /** True if any group's part must be durable before its messages leave. */
  readonly mustSync: boolean;
  /** Every group's messages, by destination node: one transport write per node. */
  readonly outbound: ReadonlyMap<NodeId, GroupMessage[]>;
}

export class RaftGroupSet {
  private readonly machines = new Map<GroupId, RaftMachine>();

  add(groupId: GroupId, machine: RaftMachine): void {
    if (this.machines.has(groupId)) throw new Error(`group ${groupId} already exists`);
    this.machines.set(groupId, machine);
  }

  remove(groupId: GroupId): boolean {
    return this.machines.delete(groupId);
  }

  get(groupId: GroupId): RaftMachine | undefined {
    return this.machines.get(groupId);
  }

  groupIds(): GroupId[] {
    return [...this.machines.keys()];
  }

  tick(): void {
    for (const machine of this.machines.values()) machine.tick();
  }

  /** Routes a message to its group; returns false if this node does not host the group. */
  step(groupMessage: GroupMessage): boolean {
    const machine = this.machines.get(groupMessage.groupId);
    if (machine === undefined) return false;
    machine.step(groupMessage.message);
    return true;
  }

  hasReady(): boolean {
    for (const machine of this.machines.values()) if (machine.hasReady()) return true;
    return false;
  }

  ready(): GroupSetReady {
    const groups: GroupReady[] = [];
    const outbound = new Map<NodeId, GroupMessage[]>();
    let mustSync = false;
    for (const [groupId, machine] of this.machines) {
      if (!machine.hasReady()) continue;
      const ready = machine.ready();
      groups.push({ groupId, ready });
      mustSync ||= ready.mustSync;
      for (const message of ready.messages) {
        let queue = outbound.get(message.to);
        if (queue === undefined) {
          queue = [];
          outbound.set(message.to, queue);
        }
        queue.push({ groupId, message });
      }
    }
    return { groups, mustSync, outbound };
  }

  advance(batch: GroupSetReady): void {
    for (const { groupId, ready } of batch.groups) this.machines.get(groupId)?.advance(ready);
  }
}
