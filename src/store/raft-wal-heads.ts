/**
 * What a checkpoint of the Raft WAL records for each group: its snapshot mark and its hard
 * state as of every record appended so far (durable or not yet), in the order appended. A new
 * segment opens with these (segment-log.ts writes them with its magic), so every segment can
 * be replayed from its start and any prefix of older segments whose entries snapshots cover
 * can be deleted.
 *
 * The rules mirror RaftLogImage's for these two fields, without keeping the entries.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { HardState, Membership, SnapshotMeta } from "../raft/types.js";
import { initialPersistedState } from "../raft/types.js";
import type { RaftLogImage, RaftLogWrite } from "./raft-log-image.js";
import { encodeWalRecord } from "./raft-wal-codec.js";
import type { LogRecord } from "./segment-log.js";

interface GroupHead {
  meta: SnapshotMeta;
  hardState: HardState;
}

export class RaftWalHeads {
  private readonly heads = new Map<GroupId, GroupHead>();

  constructor(images: ReadonlyMap<GroupId, RaftLogImage>) {
    for (const [groupId, image] of images) {
      this.heads.set(groupId, {
        meta: image.currentSnapshot().meta,
        hardState: image.currentHardState(),
      });
    }
  }

  created(groupId: GroupId, membership: Membership): void {
    const { snapshot, hardState } = initialPersistedState(membership);
    this.heads.set(groupId, { meta: snapshot.meta, hardState });
  }

  dropped(groupId: GroupId): void {
    this.heads.delete(groupId);
  }

  wrote(groupId: GroupId, write: RaftLogWrite): void {
    const head = this.heads.get(groupId);
    if (head === undefined) return;
    switch (write.type) {
      case "install":
        head.meta = write.snapshot.meta;
        break;
      case "compact":
        // As RaftLogImage: a compaction at or below the current snapshot changes nothing.
        if (write.snapshot.meta.index > head.meta.index) head.meta = write.snapshot.meta;
        break;
      case "hardState":
        head.hardState = write.hardState;
        break;
      case "entries":
        break;
    }
  }

  /** The records that open a new segment: every group's base mark and hard state. */
  checkpoint(): LogRecord[] {
    const records: LogRecord[] = [];
    for (const [groupId, { meta, hardState }] of this.heads) {
      records.push(encodeWalRecord({ type: "snapshot", groupId, mark: "base", meta }));
      records.push(encodeWalRecord({ type: "hardState", groupId, hardState }));
    }
    return records;
  }
}
