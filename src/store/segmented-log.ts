/**
 * An append-only log of checksummed records spread over numbered segment files in one
 * directory, with group commit. Records are appended to the newest segment; when it grows
 * past segmentSizeBytes the next batch starts a new one, beginning with records the owner
 * supplies (a checkpoint), so old segments can be deleted once nothing in them is needed.
 * Used by the Raft log store; written to serve the durable message store too.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { GroupCommit } from "./group-commit.js";
import { SegmentFile } from "./segment-file.js";

export interface SegmentedLogOptions {
  readonly segmentSizeBytes: number;
  /** Records that open every new segment (not the first): a checkpoint of the owner's state. */
  readonly checkpoint: () => Uint8Array[];
}

export interface RecoveredRecord {
  readonly segmentId: number;
  readonly payload: Buffer;
}

const SUFFIX = ".wal";

function segmentName(id: number): string {
  return `${String(id).padStart(20, "0")}${SUFFIX}`;
}

export class SegmentedLog {
  private staged: Uint8Array[] = [];
  private readonly groupCommit = new GroupCommit(() => this.flushStaged());
  private active: SegmentFile;
  private activeId: number;
  private readonly ids: number[];

  private constructor(
    private readonly directory: string,
    private readonly options: SegmentedLogOptions,
    ids: number[],
    active: SegmentFile,
  ) {
    this.ids = ids;
    this.active = active;
    this.activeId = ids[ids.length - 1];
  }

  /**
   * Opens (or creates) the log and returns every valid record, oldest first. A damaged tail
   * in the newest segment is a torn write and is cut off; damage anywhere else means data
   * that was once durable is gone, and opening fails rather than silently losing it.
   */
  static async open(
    directory: string,
    options: SegmentedLogOptions,
  ): Promise<{ log: SegmentedLog; records: RecoveredRecord[] }> {
    await mkdir(directory, { recursive: true });
    const ids = (await readdir(directory))
      .filter((name) => name.endsWith(SUFFIX))
      .map((name) => Number.parseInt(name, 10))
      .sort((a, b) => a - b);
    const records: RecoveredRecord[] = [];
    if (ids.length === 0) {
      const active = await SegmentFile.create(join(directory, segmentName(1)));
      return { log: new SegmentedLog(directory, options, [1], active), records };
    }
    let validEndBytes = 0;
    for (const [position, id] of ids.entries()) {
      const scan = await SegmentFile.scan(join(directory, segmentName(id)));
      const newest = position === ids.length - 1;
      if (scan.damaged && !newest) {
        throw new Error(`segment ${segmentName(id)} is damaged before its end`);
      }
      for (const payload of scan.payloads) records.push({ segmentId: id, payload });
      validEndBytes = scan.validEndBytes;
    }
    const lastId = ids[ids.length - 1];
    const active = await SegmentFile.reopen(join(directory, segmentName(lastId)), validEndBytes);
    return { log: new SegmentedLog(directory, options, ids, active), records };
  }

  /** Stages a record for the next flush. */
  append(payload: Uint8Array): void {
    this.staged.push(payload);
  }

  /** Makes every record appended so far durable; concurrent callers share one fdatasync. */
  flush(): Promise<void> {
    return this.groupCommit.commit();
  }

  /** The segment the next batch is appended to. */
  activeSegmentId(): number {
    return this.activeId;
  }

  segmentIds(): readonly number[] {
    return this.ids;
  }

  private async flushStaged(): Promise<void> {
    if (this.staged.length === 0) return;
    const batch = this.staged;
    this.staged = [];
    if (this.active.size() >= this.options.segmentSizeBytes) await this.roll();
    await this.active.append(batch);
    await this.active.sync();
  }

  private async roll(): Promise<void> {
    const nextId = this.activeId + 1;
    const next = await SegmentFile.create(join(this.directory, segmentName(nextId)));
    await this.active.close();
    this.active = next;
    this.activeId = nextId;
    this.ids.push(nextId);
    await this.active.append(this.options.checkpoint());
  }

  /**
   * Deletes segments older than the active one, oldest first, while deletable() says nothing
   * in them is needed. Only a prefix goes, so replay always starts at a segment's checkpoint.
   */
  async deleteOldSegments(deletable: (segmentId: number) => boolean): Promise<number> {
    let deleted = 0;
    while (this.ids.length > 1 && deletable(this.ids[0])) {
      const id = this.ids.shift()!;
      await SegmentFile.remove(join(this.directory, segmentName(id)));
      deleted++;
    }
    return deleted;
  }

  async close(): Promise<void> {
    await this.groupCommit.commit();
    await this.active.close();
  }

  /** Closes without writing what is staged, as a crash would. */
  async abandon(): Promise<void> {
    this.staged = [];
    await this.active.close();
  }
}
