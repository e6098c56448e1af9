/**
 * The in-memory Raft log store, for tests and single-process experiments. Its durable state
 * lives in a MemoryLogDisk that outlives the store, so a test can "crash" by opening a new
 * store on the same disk: staged writes that were never synced are gone.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { Membership, PersistedState } from "../raft/types.js";
import { initialPersistedState } from "../raft/types.js";
import type { RaftLogWrite } from "./raft-log-image.js";
import { RaftLogImage } from "./raft-log-image.js";
import type { RaftLogStore } from "./raft-log-store.js";
import type { StagedChange } from "./raft-staged-change.js";

/** What survives a crash of a MemoryRaftLogStore. */
export class MemoryLogDisk {
  readonly images = new Map<GroupId, RaftLogImage>();
}

export class MemoryRaftLogStore implements RaftLogStore {
  private staged: StagedChange[] = [];
  /** Groups as staged: durable ones plus staged creations, minus staged drops. */
  private readonly knownGroups: Set<GroupId>;
  private readonly droppedUnsynced = new Set<GroupId>();

  constructor(private readonly disk: MemoryLogDisk = new MemoryLogDisk()) {
    this.knownGroups = new Set(disk.images.keys());
  }

  groupIds(): GroupId[] {
    return [...this.disk.images.keys()];
  }

  load(groupId: GroupId): PersistedState | undefined {
    return this.disk.images.get(groupId)?.persistedState();
  }

  createGroup(groupId: GroupId, membership: Membership): void {
    if (this.knownGroups.has(groupId)) throw new Error(`group ${groupId} already exists`);
    if (this.droppedUnsynced.has(groupId)) {
      throw new Error(`group ${groupId} was dropped: sync before creating it again`);
    }
    this.knownGroups.add(groupId);
    this.staged.push({ type: "create", groupId, membership });
  }

  write(groupId: GroupId, writes: readonly RaftLogWrite[]): void {
    if (!this.knownGroups.has(groupId)) throw new Error(`no group ${groupId}`);
    for (const write of writes) this.staged.push({ type: "write", groupId, write });
  }

  dropGroup(groupId: GroupId): void {
    if (!this.knownGroups.delete(groupId)) throw new Error(`no group ${groupId}`);
    this.droppedUnsynced.add(groupId);
    this.staged.push({ type: "drop", groupId });
  }

  async sync(): Promise<void> {
    const changes = this.staged;
    this.staged = [];
    this.droppedUnsynced.clear();
    for (const change of changes) {
      switch (change.type) {
        case "create":
          this.disk.images.set(
            change.groupId,
            new RaftLogImage(initialPersistedState(change.membership)),
          );
          break;
        case "write": {
          const image = this.disk.images.get(change.groupId);
          if (image === undefined) throw new Error(`no group ${change.groupId}`);
          image.apply(change.write);
          break;
        }
        case "drop":
          this.disk.images.delete(change.groupId);
          break;
      }
    }
  }

  async close(): Promise<void> {
    await this.sync();
  }

  async abandon(): Promise<void> {
    this.staged = [];
  }
}
