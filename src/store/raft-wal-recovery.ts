/**
 * Opening the Raft log store's files: the snapshot files, then every WAL segment (through the
 * shared segment log's recovery: checksums, torn-tail truncation, damage found and reported),
 * then the replay (raft-wal-replay.ts). What a message log may skip and report, the Raft log
 * refuses: a damaged record that was once durable may hold a vote or an acknowledged entry,
 * and a node that forgot it could break Raft's safety, so the open fails and says where.
 */
import { join } from "node:path";
import type { Log } from "../log.js";
import type { GroupId } from "../raft/raft-group-set.js";
import type { RaftLogImage } from "./raft-log-image.js";
import { decodeWalRecord, plausibleWalRecord, RAFT_WAL_FORMAT } from "./raft-wal-codec.js";
import { type ReplayedRecord, replayWal } from "./raft-wal-replay.js";
import { segmentFileName, segmentNumbersIn } from "./segment-format.js";
import { type LogRecord, SegmentLog } from "./segment-log.js";
import { readSnapshotFiles, type StoredSnapshot } from "./snapshot-file.js";
import type { StoreFs } from "./store-fs.js";

export interface RaftWalOptions {
  readonly segmentSizeBytes: number;
  readonly log: Log | undefined;
  /** The records every new segment opens with (see raft-wal-heads.ts). */
  readonly checkpoint: () => readonly LogRecord[];
  /** Asks for another flush soon. */
  readonly wake: () => void;
}

export interface RecoveredRaftWal {
  /** The WAL, recovered but not started (start() writes the first new segment). */
  readonly log: SegmentLog;
  readonly files: ReadonlyMap<GroupId, StoredSnapshot>;
  readonly images: Map<GroupId, RaftLogImage>;
  readonly segmentMaxIndexes: Map<number, Map<GroupId, number>>;
}

export function recoverRaftWal(
  fs: StoreFs,
  directory: string,
  options: RaftWalOptions,
): RecoveredRaftWal {
  const snapshotDirectory = join(directory, "snapshots");
  const walDirectory = join(directory, "wal");
  fs.mkdirSync(snapshotDirectory);
  fs.mkdirSync(walDirectory);
  refuseEarlierFormat(fs, walDirectory);
  const files = readSnapshotFiles(fs, snapshotDirectory);
  const log = new SegmentLog(walDirectory, fs, options.segmentSizeBytes, {
    format: RAFT_WAL_FORMAT,
    plausible: plausibleWalRecord,
    checkpoint: options.checkpoint,
    // The caller of sync() decides when to try again after a failed write: each sync does.
    retryMs: 0,
    // A backlog held through a full disk is written a slice per turn.
    wake: options.wake,
    log: options.log,
  });
  const records: ReplayedRecord[] = [];
  const report = log.recover((type, payload, position) =>
    records.push({ segmentId: position.segment, record: decodeWalRecord(type, payload) }),
  );
  const first = report.damaged[0];
  if (first !== undefined) {
    const where = `${join(walDirectory, segmentFileName(first.segment, RAFT_WAL_FORMAT))} at offset ${first.offset}`;
    throw new Error(
      `Raft log segment ${where} is damaged (${first.bytes} bytes unreadable, ${report.damaged.length} damaged stretch(es) in segments ${report.corruptSegments.join(", ")}); refusing to open: that data was once durable`,
    );
  }
  const { images, segmentMaxIndexes } = replayWal(files, records);
  return { log, files, images, segmentMaxIndexes };
}

/**
 * Before this WAL format (WARRENR1, 12-digit names), the WAL had 20-digit names and no magic.
 * No release ever wrote one (nothing in the runtime used the Raft log store then), but a file
 * left from a development build is refused by name rather than read as damage.
 */
function refuseEarlierFormat(fs: StoreFs, walDirectory: string): void {
  const current = new Set(
    segmentNumbersIn(fs, walDirectory, RAFT_WAL_FORMAT).map((n) =>
      segmentFileName(n, RAFT_WAL_FORMAT),
    ),
  );
  const earlier = fs
    .readdirSync(walDirectory)
    .filter((name) => name.endsWith(RAFT_WAL_FORMAT.suffix) && !current.has(name));
  if (earlier.length > 0) {
    throw new Error(
      `Raft log ${walDirectory} holds WAL files of an earlier, unreleased format (${earlier.slice(0, 3).join(", ")}); this version cannot read them: remove the directory to start the Raft log afresh`,
    );
  }
}
