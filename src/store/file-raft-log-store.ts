/**
 * The file-backed Raft log store: one write-ahead log shared by every group of the node (as
 * RabbitMQ's ra shares one WAL), plus one snapshot file per group.
 *
 *   <directory>/wal/000000000001.wal          segments of the WAL
 *   <directory>/snapshots/<hex group id>.snap  each group's latest snapshot
 *
 * The WAL is the segment log the durable message store uses too (segment-log.ts), in its own
 * format (RAFT_WAL_FORMAT): the same group commit (the records of every sync made meanwhile
 * share one writev and one fdatasync), torn-tail truncation, retention of records whose write
 * failed, and every file operation through StoreFs, so tests can inject disk faults.
 *
 * A sync() writes, in this order: its new snapshot files (each atomically, and only once every
 * earlier WAL record is durable), then its WAL records; it resolves when the fdatasync that
 * covers them returns. Recovery (raft-wal-replay.ts) rebuilds every group from its snapshot
 * file and the WAL. Each new segment opens with a checkpoint (raft-wal-heads.ts), so old
 * segments can be deleted once every entry in them is covered by its group's snapshot.
 *
 * The store mirrors each group's durable log in memory (a RaftLogImage) to answer load();
 * compaction bounds it as it bounds the Raft log itself.
 */
import { join } from "node:path";
import type { Log } from "../log.js";
import type { GroupId } from "../raft/raft-group-set.js";
import type { Membership, PersistedState } from "../raft/types.js";
import { initialPersistedState } from "../raft/types.js";
import { errText } from "./log-position.js";
import type { RaftLogWrite } from "./raft-log-image.js";
import { RaftLogImage } from "./raft-log-image.js";
import type { RaftLogStore } from "./raft-log-store.js";
import { type StagedChange, walRecordOf } from "./raft-staged-change.js";
import { encodeWalRecord } from "./raft-wal-codec.js";
import { RaftWalHeads } from "./raft-wal-heads.js";
import { recoverRaftWal } from "./raft-wal-recovery.js";
import type { SegmentLog } from "./segment-log.js";
import type { StoredSnapshot } from "./snapshot-file.js";
import { removeSnapshotFile, writeSnapshotFile } from "./snapshot-file.js";
import { nodeFs, type StoreFs } from "./store-fs.js";

export interface FileRaftLogStoreOptions {
  /** A segment is closed and a new one started once it reaches this size. */
  readonly segmentSizeBytes?: number;
  /** The file operations (node:fs; tests substitute one that fails on demand). */
  readonly fs?: StoreFs;
  /** Where write failures and segments that cannot be deleted are reported. */
  readonly log?: Log;
}

export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;

/** One sync's changes, numbered in the order they reach the WAL. */
interface Batch {
  readonly seq: number;
  readonly changes: readonly StagedChange[];
}

export class FileRaftLogStore implements RaftLogStore {
  private staged: StagedChange[] = [];
  /** Groups as staged: durable ones plus staged creations, minus staged drops. */
  private readonly knownGroups: Set<GroupId>;
  private readonly droppedUnsynced = new Set<GroupId>();
  /** Syncs whose snapshot files could not be written: the next sync writes them first, in order. */
  private unwritten: (readonly StagedChange[])[] = [];
  /** Batches in the WAL (written, or held by it after a failed write) not known durable yet, oldest first. */
  private readonly inLog: Batch[] = [];
  private lastSeq = 0;
  private appliedSeq = 0;
  /** Per segment: the last batch with records in it, and each group's highest entry index there. */
  private readonly segmentLastSeq = new Map<number, number>();
  private readonly heads: RaftWalHeads;
  /** One sync's file writes and WAL appends at a time, in call order. */
  private appending: Promise<void> = Promise.resolve();
  /** Set when the store cannot go on safely (a snapshot file it had to delete is still there). */
  private failure: Error | undefined;
  private released = false;
  private flushScheduled = false;
  private log!: SegmentLog;

  private constructor(
    private readonly fs: StoreFs,
    private readonly snapshotDirectory: string,
    private readonly images: Map<GroupId, RaftLogImage>,
    private readonly segmentMaxIndexes: Map<number, Map<GroupId, number>>,
    private readonly logger: Log | undefined,
  ) {
    this.knownGroups = new Set(images.keys());
    this.heads = new RaftWalHeads(images);
  }

  /**
   * Opens (or creates) the store. Damage anywhere but a torn tail of the newest segment, a
   * damaged snapshot file, or WAL files of an earlier format refuse the open: that data was
   * once durable, and a Raft node must not come back having forgotten it.
   */
  static async open(
    directory: string,
    options: FileRaftLogStoreOptions = {},
  ): Promise<FileRaftLogStore> {
    const fs = options.fs ?? nodeFs;
    const snapshotDirectory = join(directory, "snapshots");
    let store: FileRaftLogStore | undefined;
    const { log, files, images, segmentMaxIndexes } = recoverRaftWal(fs, directory, {
      segmentSizeBytes: options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES,
      log: options.log,
      checkpoint: () => store!.heads.checkpoint(),
      wake: () => store?.scheduleFlush(),
    });
    // A group dropped just before a crash may have left its snapshot file behind.
    for (const groupId of files.keys()) {
      if (!images.has(groupId)) removeSnapshotFile(fs, snapshotDirectory, groupId);
    }
    store = new FileRaftLogStore(fs, snapshotDirectory, images, segmentMaxIndexes, options.log);
    store.log = log;
    log.start();
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

  /**
   * Makes everything staged so far durable. A failed sync (ENOSPC, EIO) rejects with the file
   * system's error and loses nothing: its writes stay queued in order (in the WAL's buffer,
   * or before the next sync's writes) and the next sync tries them again. load() shows them
   * only once a sync has made them durable. After an fdatasync error every sync rejects, as
   * the kernel may have dropped the data (reopen the store to go on).
   */
  sync(): Promise<void> {
    const changes = this.staged;
    this.staged = [];
    this.droppedUnsynced.clear();
    const appended = this.appending.then(() => this.appendBatches(changes));
    this.appending = appended.then(
      () => {},
      () => {},
    );
    return appended.then(({ durable }) => durable);
  }

  async close(): Promise<void> {
    try {
      await this.sync();
    } finally {
      this.released = true;
      this.log.close();
    }
  }

  async abandon(): Promise<void> {
    this.staged = [];
    this.unwritten = [];
    this.released = true;
    this.log.abandon();
    // A sync writing a snapshot file finishes that file (a crash could have come after it)
    // and then stops; nothing reaches the WAL after this.
    await this.appending;
  }

  /** The WAL segment files currently kept, oldest first (for tests and status). */
  segmentIds(): readonly number[] {
    return this.log.segmentNumbers();
  }

  /** Writes the snapshot files and appends the WAL records of every sync not yet in the WAL. */
  private async appendBatches(
    changes: readonly StagedChange[],
  ): Promise<{ durable: Promise<void> }> {
    if (this.failure) throw this.failure;
    if (this.released) throw new Error("the Raft log store is closed");
    if (changes.length > 0) this.unwritten.push(changes);
    // After a failed fdatasync nothing more is written: what the kernel kept is unknown.
    if (this.log.failed) throw this.log.failed;
    while (this.unwritten.length > 0) {
      const next = this.unwritten[0]!;
      await this.writeSnapshotFiles(next);
      if (this.released) throw new Error("the Raft log store is closed");
      this.appendToWal(next);
      this.unwritten.shift();
    }
    return { durable: this.inLog.length > 0 ? this.whenWalDurable() : Promise.resolve() };
  }

  /** Snapshot files first: a WAL mark must never point at a snapshot that is not durable. */
  private async writeSnapshotFiles(changes: readonly StagedChange[]): Promise<void> {
    const latest = new Map<GroupId, StoredSnapshot>();
    for (const change of changes) {
      if (change.type !== "write") continue;
      const { write } = change;
      if (write.type === "install" || write.type === "compact") {
        latest.set(change.groupId, { mark: write.type, snapshot: write.snapshot });
      }
    }
    if (latest.size === 0) return;
    // A snapshot replaces what earlier records established, so they are made durable first:
    // a file is never newer than a WAL that a crash could still cut short before it.
    if (this.inLog.length > 0) await this.whenWalDurable();
    for (const [groupId, stored] of latest) {
      await writeSnapshotFile(this.fs, this.snapshotDirectory, groupId, stored);
    }
  }

  private appendToWal(changes: readonly StagedChange[]): void {
    const seq = ++this.lastSeq;
    this.inLog.push({ seq, changes });
    for (const change of changes) {
      const { type, payload } = encodeWalRecord(walRecordOf(change));
      const { segment } = this.log.append(type, [payload]);
      this.segmentLastSeq.set(segment, seq);
      switch (change.type) {
        case "create":
          this.heads.created(change.groupId, change.membership);
          break;
        case "drop":
          this.heads.dropped(change.groupId);
          break;
        case "write":
          this.heads.wrote(change.groupId, change.write);
          if (change.write.type === "entries")
            this.noteEntries(segment, change.groupId, change.write);
          break;
      }
    }
  }

  private noteEntries(
    segment: number,
    groupId: GroupId,
    write: { readonly entries: readonly { readonly index: number }[] },
  ): void {
    const last = write.entries[write.entries.length - 1]?.index ?? 0;
    let maxIndexes = this.segmentMaxIndexes.get(segment);
    if (maxIndexes === undefined) {
      maxIndexes = new Map();
      this.segmentMaxIndexes.set(segment, maxIndexes);
    }
    maxIndexes.set(groupId, Math.max(maxIndexes.get(groupId) ?? 0, last));
  }

  /** Flushes the WAL; resolves once everything appended so far is durable. */
  private whenWalDurable(): Promise<void> {
    const seq = this.lastSeq;
    const durable = new Promise<void>((resolve, reject) =>
      this.log.whenDurable((err) => {
        if (err) {
          reject(err);
          return;
        }
        this.durableUpTo(seq);
        resolve();
      }),
    );
    this.scheduleFlush();
    return durable;
  }

  /**
   * The group commit: the WAL is written once per event-loop turn, so every sync made in a
   * turn (and every one made while an fdatasync runs) shares one writev and one fdatasync.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.released) this.log.flush();
    });
  }

  /** Batches up to `seq` are durable: load() shows them now, and covered segments can go. */
  private durableUpTo(seq: number): void {
    while (this.inLog.length > 0 && this.inLog[0]!.seq <= seq) {
      const batch = this.inLog.shift()!;
      for (const change of batch.changes) this.applyDurable(change);
      this.appliedSeq = batch.seq;
    }
    this.deleteCoveredSegments();
  }

  private applyDurable(change: StagedChange): void {
    switch (change.type) {
      case "create":
        this.images.set(change.groupId, new RaftLogImage(initialPersistedState(change.membership)));
        break;
      case "drop":
        this.images.delete(change.groupId);
        try {
          removeSnapshotFile(this.fs, this.snapshotDirectory, change.groupId);
        } catch (e) {
          // A later incarnation of the group would start from this stale snapshot.
          this.failure = Object.assign(
            new Error(
              `could not delete the snapshot file of dropped group ${change.groupId}: ${errText(e)}`,
            ),
            { cause: e },
          );
        }
        break;
      case "write":
        this.images.get(change.groupId)!.apply(change.write);
        break;
    }
  }

  /**
   * Deletes the oldest segments while every entry in them is covered by its group's durable
   * snapshot (or its group is gone) and every batch with records in them is durable. Only a
   * prefix goes, so replay always starts at a segment's checkpoint. A deletion that fails is
   * tried again after the next sync.
   */
  private deleteCoveredSegments(): void {
    const active = this.log.activeSegment;
    const ids = this.log.segmentNumbers();
    for (const [i, id] of ids.entries()) {
      if (id === active || !this.segmentDeletable(id)) return;
      // Replay must start at a checkpoint a crash cannot take: the active segment's counts
      // only once an fdatasync has covered it.
      if (ids[i + 1] === active && !this.log.activeStartDurable) return;
      try {
        this.log.remove(id);
      } catch (e) {
        this.logger?.warn(
          { segment: id, err: errText(e) },
          `could not delete covered Raft log segment ${id} (${errText(e)}); trying again after the next sync`,
        );
        return;
      }
      this.segmentMaxIndexes.delete(id);
      this.segmentLastSeq.delete(id);
    }
  }

  private segmentDeletable(segmentId: number): boolean {
    if ((this.segmentLastSeq.get(segmentId) ?? 0) > this.appliedSeq) return false;
    const maxIndexes = this.segmentMaxIndexes.get(segmentId);
    if (maxIndexes === undefined) return true;
    for (const [groupId, maxIndex] of maxIndexes) {
      const image = this.images.get(groupId);
      if (image !== undefined && maxIndex > image.currentSnapshot().meta.index) return false;
    }
    return true;
  }
}
