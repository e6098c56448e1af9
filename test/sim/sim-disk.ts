/**
 * A node's simulated disk, shared by all its Raft groups like one write-ahead log. Writes are
 * buffered until sync(); a crash keeps only a random prefix of the unsynced writes, and may
 * tear the last one (an entries write keeps only some of its entries, as a checksummed log
 * would after a torn append).
 */
import type { GroupId } from "../../src/raft/index.js";
import type { Membership, PersistedState } from "../../src/raft/types.js";
import { initialPersistedState } from "../../src/raft/types.js";
import type { RaftLogWrite } from "../../src/store/raft-log-image.js";
import { RaftLogImage } from "../../src/store/raft-log-image.js";
import type { Prng } from "./prng.js";

interface PendingWrite {
  readonly groupId: GroupId;
  readonly write: RaftLogWrite;
}

export interface CrashOutcome {
  readonly lostWrites: number;
  readonly torn: boolean;
}

export class SimDisk {
  private readonly durable = new Map<GroupId, RaftLogImage>();
  private pending: PendingWrite[] = [];

  /** Creates a group's log as a brand-new node would find it. */
  format(groupId: GroupId, membership: Membership): void {
    this.durable.set(groupId, new RaftLogImage(initialPersistedState(membership)));
  }

  groupIds(): GroupId[] {
    return [...this.durable.keys()];
  }

  write(groupId: GroupId, writes: readonly RaftLogWrite[]): void {
    for (const write of writes) this.pending.push({ groupId, write });
  }

  unsyncedWrites(): number {
    return this.pending.length;
  }

  sync(): void {
    for (const { groupId, write } of this.pending) this.image(groupId).apply(write);
    this.pending = [];
  }

  crash(prng: Prng, tornProbability: number): CrashOutcome {
    const kept = prng.int(0, this.pending.length);
    for (const { groupId, write } of this.pending.slice(0, kept)) this.image(groupId).apply(write);
    let torn = false;
    const next = this.pending[kept];
    if (next?.write.type === "entries" && next.write.entries.length > 1) {
      if (prng.chance(tornProbability)) {
        const entries = next.write.entries.slice(0, prng.int(1, next.write.entries.length - 1));
        this.image(next.groupId).apply({ type: "entries", entries });
        torn = true;
      }
    }
    const lostWrites = this.pending.length - kept;
    this.pending = [];
    return { lostWrites, torn };
  }

  load(groupId: GroupId): PersistedState {
    return this.image(groupId).persistedState();
  }

  private image(groupId: GroupId): RaftLogImage {
    const image = this.durable.get(groupId);
    if (image === undefined) throw new Error(`group ${groupId} is not on this disk`);
    return image;
  }
}
