/**
 * The file-backed Raft log store: one write-ahead log shared by every group of the node (as
 * RabbitMQ's ra shares one WAL), plus one snapshot file per group.
 *
 *   <directory>/wal/00000000000000000001.wal   segments of checksummed WAL records
 *   <directory>/snapshots/<hex group id>.snap   each group's latest snapshot
 *
 * A sync() writes, in this order: new snapshot files (each atomically), then one writev of
 * every staged WAL record and one fdatasync. Recovery (raft-wal-replay.ts) rebuilds every
 * group from its snapshot file and the WAL. Each new segment opens with a checkpoint (every
 * group's snapshot mark and hard state), so old segments can be deleted once every entry in
 * them is covered by its group's snapshot.
 *
 * The store mirrors each group's durable log in memory (a RaftLogImage) to answer load() and
 * to write checkpoints; compaction bounds it as it bounds the Raft log itself.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { GroupId } from "../raft/raft-group-set.js";
import type { Membership, PersistedState } from "../raft/types.js";
import { initialPersistedState } from "../raft/types.js";
import { GroupCommit } from "./group-commit.js";
import type { RaftLogWrite } from "./raft-log-image.js";
import { RaftLogImage } from "./raft-log-image.js";
import type { RaftLogStore } from "./raft-log-store.js";
import type { WalRecord } from "./raft-wal-codec.js";
import { decodeWalRecord, encodeWalRecord } from "./raft-wal-codec.js";
import { replayWal } from "./raft-wal-replay.js";
import { SegmentedLog } from "./segmented-log.js";
import type { StoredSnapshot } from "./snapshot-file.js";
import { readSnapshotFiles, removeSnapshotFile, writeSnapshotFile } from "./snapshot-file.js";

export interface FileRaftLogStoreOptions {
  /** A segment is closed and a new one started once it reaches this size. */
  readonly segmentSizeBytes?: number;
}

export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;

type StagedChange =
  | { readonly type: "create"; readonly groupId: GroupId; readonly membership: Membership }
  | { readonly type: "write"; readonly groupId: GroupId; readonly write: RaftLogWrite }
  | { readonly type: "drop"; readonly groupId: GroupId };

export class FileRaftLogStore implements RaftLogStore {
  private staged: StagedChange[] = [];
  /** Groups as staged: durable ones plus staged creations, minus staged drops. */
  private readonly knownGroups: Set<GroupId>;
  private readonly droppedUnsynced = new Set<GroupId>();
  private readonly groupCommit = new GroupCommit(() => this.flush());
  private log!: SegmentedLog;

  private constructor(
    private readonly snapshotDirectory: string,
    private readonly images: Map<GroupId, RaftLogImage>,
    private readonly segmentMaxIndexes: Map<number, Map<GroupId, number>>,
  ) {
    this.knownGroups = new Set(images.keys());
  }

  static async open(
    directory: string,
    options: FileRaftLogStoreOptions = {},
  ): Promise<FileRaftLogStore> {
    const snapshotDirectory = join(directory, "snapshots");
    await mkdir(snapshotDirectory, { recursive: true });
    const files = await readSnapshotFiles(snapshotDirectory);
    let store: FileRaftLogStore | undefined;
    const { log, records } = await SegmentedLog.open(join(directory, "wal"), {
      segmentSizeBytes: options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES,
      checkpoint: () => store!.checkpointRecords(),
    });
    const { images, segmentMaxIndexes } = replayWal(
      files,
      records.map(({ segmentId, payload }) => ({ segmentId, record: decodeWalRecord(payload) })),
    );
    // A group dropped just before a crash may have left its snapshot file behind.
    for (const groupId of files.keys()) {
      if (!images.has(groupId)) await removeSnapshotFile(snapshotDirectory, groupId);
    }
    store = new FileRaftLogStore(snapshotDirectory, images, segmentMaxIndexes);
    store.log = log;
    return store;
  }

  groupIds(): GroupId[] {
    return [...this.images.keys()];
  }

  load(groupId: GroupId): PersistedState | undefined {
    return this.images.get(groupId)?.persistedState();
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

  sync(): Promise<void> {
    return this.groupCommit.commit();
  }

  async close(): Promise<void> {
    await this.sync();
    await this.log.close();
  }

  async abandon(): Promise<void> {
    this.staged = [];
    await this.log.abandon();
  }

  /** The WAL segment files currently kept, oldest first (for tests and status). */
  segmentIds(): readonly number[] {
    return this.log.segmentIds();
  }

  private async flush(): Promise<void> {
    const changes = this.staged;
    this.staged = [];
    this.droppedUnsynced.clear();
    if (changes.length === 0) return;
    // Snapshot files first: a WAL mark must never point at a snapshot that is not durable.
    const latest = new Map<GroupId, StoredSnapshot>();
    for (const change of changes) {
      if (change.type !== "write") continue;
      const { write } = change;
      if (write.type === "install" || write.type === "compact") {
        latest.set(change.groupId, { mark: write.type, snapshot: write.snapshot });
      }
    }
    for (const [groupId, stored] of latest) {
      await writeSnapshotFile(this.snapshotDirectory, groupId, stored);
    }
    for (const change of changes) this.log.append(encodeWalRecord(walRecordOf(change)));
    await this.log.flush();
    const segmentId = this.log.activeSegmentId();
    for (const change of changes) await this.applyDurable(segmentId, change);
    await this.log.deleteOldSegments((id) => this.segmentDeletable(id));
    for (const id of [...this.segmentMaxIndexes.keys()]) {
      if (!this.log.segmentIds().includes(id)) this.segmentMaxIndexes.delete(id);
    }
  }

  private async applyDurable(segmentId: number, change: StagedChange): Promise<void> {
    switch (change.type) {
      case "create":
        this.images.set(change.groupId, new RaftLogImage(initialPersistedState(change.membership)));
        break;
      case "drop":
        this.images.delete(change.groupId);
        await removeSnapshotFile(this.snapshotDirectory, change.groupId);
        break;
      case "write": {
        this.images.get(change.groupId)!.apply(change.write);
        if (change.write.type === "entries") {
          const last = change.write.entries[change.write.entries.length - 1]?.index ?? 0;
          let maxIndexes = this.segmentMaxIndexes.get(segmentId);
          if (maxIndexes === undefined) {
            maxIndexes = new Map();
            this.segmentMaxIndexes.set(segmentId, maxIndexes);
          }
          maxIndexes.set(change.groupId, Math.max(maxIndexes.get(change.groupId) ?? 0, last));
        }
        break;
      }
    }
  }

  /** A segment is no longer needed when every entry in it is covered by a snapshot. */
  private segmentDeletable(segmentId: number): boolean {
    const maxIndexes = this.segmentMaxIndexes.get(segmentId);
    if (maxIndexes === undefined) return true;
    for (const [groupId, maxIndex] of maxIndexes) {
      const image = this.images.get(groupId);
      if (image !== undefined && maxIndex > image.currentSnapshot().meta.index) return false;
    }
    return true;
  }

  /** Opens every new segment: each group's durable snapshot mark and hard state. */
  private checkpointRecords(): Uint8Array[] {
    const records: Uint8Array[] = [];
    for (const [groupId, image] of this.images) {
      const { meta } = image.currentSnapshot();
      records.push(encodeWalRecord({ type: "snapshot", groupId, mark: "base", meta }));
      records.push(
        encodeWalRecord({ type: "hardState", groupId, hardState: image.currentHardState() }),
      );
    }
    return records;
  }
}

function walRecordOf(change: StagedChange): WalRecord {
  const { groupId } = change;
  switch (change.type) {
    case "create":
      return {
        type: "snapshot",
        groupId,
        mark: "create",
        meta: { index: 0, term: 0, membership: change.membership },
      };
    case "drop":
      return { type: "drop", groupId };
    case "write": {
      const { write } = change;
      switch (write.type) {
        case "entries":
          return { type: "entries", groupId, entries: write.entries };
        case "hardState":
          return { type: "hardState", groupId, hardState: write.hardState };
        case "install":
        case "compact":
          return { type: "snapshot", groupId, mark: write.type, meta: write.snapshot.meta };
      }
    }
  }
}
