/**
 * Rebuilds every group's log from the snapshot files and the WAL records that survived.
 *
 * Each group starts from its snapshot file if it has one (else from the snapshot mark that
 * created it), and entries at or below that snapshot are skipped: the segments that held them
 * may already be deleted. Two facts make this exact:
 *   - a snapshot file is durable before the WAL mark that refers to it, so a mark never points
 *     past the file, and a missing mark means nothing after it was written either;
 *   - segments are deleted oldest first and only when every entry in them is at or below its
 *     group's snapshot, so every entry above a snapshot, and every mark after it, is replayed.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { SnapshotMeta } from "../raft/types.js";
import { EMPTY_HARD_STATE } from "../raft/types.js";
import { RaftLogImage } from "./raft-log-image.js";
import type { SnapshotMark, WalRecord } from "./raft-wal-codec.js";
import type { StoredSnapshot } from "./snapshot-file.js";

const NO_DATA = new Uint8Array(0);

export interface ReplayedRecord {
  readonly segmentId: number;
  readonly record: WalRecord;
}

export interface ReplayResult {
  readonly images: Map<GroupId, RaftLogImage>;
  /** segment id -> group -> highest entry index of the live groups in that segment. */
  readonly segmentMaxIndexes: Map<number, Map<GroupId, number>>;
}

/**
 * Replays records oldest first. Records of a group's earlier incarnations (before its last
 * create, or all of them if it ends dropped) are skipped: its snapshot file belongs to the
 * latest incarnation only.
 */
export function replayWal(
  files: ReadonlyMap<GroupId, StoredSnapshot>,
  records: readonly ReplayedRecord[],
): ReplayResult {
  const startAt = new Map<GroupId, number>();
  records.forEach(({ record }, position) => {
    if (record.type === "drop") startAt.set(record.groupId, Number.POSITIVE_INFINITY);
    if (record.type === "snapshot" && record.mark === "create")
      startAt.set(record.groupId, position);
  });
  const replay = new WalReplay(files);
  records.forEach(({ segmentId, record }, position) => {
    if (position >= (startAt.get(record.groupId) ?? 0)) replay.apply(segmentId, record);
  });
  return { images: replay.finish(), segmentMaxIndexes: replay.segmentMaxIndexes };
}

class WalReplay {
  private readonly images = new Map<GroupId, RaftLogImage>();
  private readonly fileMarked = new Set<GroupId>();
  readonly segmentMaxIndexes = new Map<number, Map<GroupId, number>>();

  constructor(private readonly files: ReadonlyMap<GroupId, StoredSnapshot>) {}

  apply(segmentId: number, record: WalRecord): void {
    const { groupId } = record;
    switch (record.type) {
      case "snapshot":
        this.applyMark(record.groupId, record.mark, record.meta);
        break;
      case "entries": {
        this.image(groupId).apply(record);
        let maxIndexes = this.segmentMaxIndexes.get(segmentId);
        if (maxIndexes === undefined) {
          maxIndexes = new Map();
          this.segmentMaxIndexes.set(segmentId, maxIndexes);
        }
        const last = record.entries[record.entries.length - 1]?.index ?? 0;
        maxIndexes.set(groupId, Math.max(maxIndexes.get(groupId) ?? 0, last));
        break;
      }
      case "hardState":
        this.image(groupId).apply(record);
        break;
      case "drop":
        throw new Error(`replay of dropped group ${groupId}`);
    }
  }

  private applyMark(groupId: GroupId, mark: SnapshotMark, meta: SnapshotMeta): void {
    const file = this.files.get(groupId);
    if (mark === "create") {
      this.images.set(groupId, this.fresh(groupId, meta));
      this.fileMarked.delete(groupId);
      return;
    }
    let image = this.images.get(groupId);
    if (image === undefined) {
      image = this.fresh(groupId, meta);
      this.images.set(groupId, image);
    }
    const fileIndex = file?.snapshot.meta.index ?? 0;
    if (meta.index > fileIndex) {
      throw new Error(
        `group ${groupId}: WAL marks snapshot ${meta.index} past its file ${fileIndex}`,
      );
    }
    // The file's own mark, or a checkpoint taken after it (its mark may be in a deleted
    // segment): either way the snapshot took effect durably at this point of the WAL.
    if (file !== undefined && meta.index === fileIndex && meta.term === file.snapshot.meta.term) {
      this.fileMarked.add(groupId);
    }
    if (mark === "base") return;
    // A compaction at or below the base changes nothing; an install wipes the entries.
    if (mark === "install") image.apply({ type: "install", snapshot: image.currentSnapshot() });
  }

  private image(groupId: GroupId): RaftLogImage {
    const image = this.images.get(groupId);
    if (image === undefined) throw new Error(`WAL writes to group ${groupId} before creating it`);
    return image;
  }

  private fresh(groupId: GroupId, meta: SnapshotMeta): RaftLogImage {
    const file = this.files.get(groupId);
    return new RaftLogImage({
      hardState: EMPTY_HARD_STATE,
      snapshot: file?.snapshot ?? { meta, data: NO_DATA },
      entries: [],
    });
  }

  /** The recovered groups. An install whose mark never became durable still wipes the log. */
  finish(): Map<GroupId, RaftLogImage> {
    for (const [groupId, image] of this.images) {
      const file = this.files.get(groupId);
      if (file?.mark === "install" && !this.fileMarked.has(groupId)) {
        image.apply({ type: "install", snapshot: file.snapshot });
      }
    }
    return this.images;
  }
}
