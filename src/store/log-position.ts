import type { DamagedRegion } from "./segment-scan.js";

/** Where a record lives: segment number, byte offset, and the record's whole length. */
export interface LogPosition {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** A damaged stretch recovery skipped, and the segment it is in. */
export interface SegmentDamage extends DamagedRegion {
  readonly segment: number;
}

export interface RecoveryReport {
  segments: number;
  records: number;
  /** Bytes cut from the end of the last segment (a write torn by a crash). */
  truncatedBytes: number;
  /** Segments with damaged stretches; the valid records around them were kept. */
  corruptSegments: number[];
  /** Every damaged stretch skipped, in log order. */
  damaged: SegmentDamage[];
  /** Bytes in the damaged stretches. */
  skippedBytes: number;
}

export type Visitor = (type: number, payload: Buffer, position: LogPosition) => void;
/** Told of each damaged stretch recovery skips, in log order between the records around it. */
export type DamageVisitor = (damage: SegmentDamage) => void;
export type Durable = (err: Error | undefined) => void;

/**
 * A record that will never read back as written: its checksum or length does not
 * match, or its file is gone. Unlike an environmental error (EMFILE, EIO), trying
 * again cannot help.
 */
export class CorruptRecordError extends Error {
  constructor(
    readonly position: LogPosition,
    reason: string,
  ) {
    super(`${reason} in segment ${position.segment} at offset ${position.offset}`);
    this.name = "CorruptRecordError";
  }
}

/** An error as an operator reads it: "ENOSPC: no space left on device, write". */
export function errText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  return code && !e.message.startsWith(code) ? `${code}: ${e.message}` : e.message;
}
