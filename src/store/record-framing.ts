/**
 * The one record framing of every log and snapshot file Warren writes (the message log,
 * the Raft WAL, Raft snapshot files):
 *
 *   u32 LE payload length | u32 LE CRC-32C over the length, the type and the payload | u8 type | payload
 *
 * The CRC covers the length too, so a damaged length is caught by the checksum rather than
 * sending a reader off to a wrong offset; the type byte lets a scan that resynchronises past
 * damage reject most false starts before computing a CRC (segment-scan.ts).
 */
import { crc32c } from "./crc32c.js";

/** Record header: payload length (u32 LE), CRC-32C (u32 LE), type (u8). */
export const RECORD_HEADER_BYTES = 9;

/** One record, header and payload, ready to write. */
export function frameRecord(type: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const total = RECORD_HEADER_BYTES + length;
  const record = Buffer.allocUnsafe(total);
  record.writeUInt32LE(length, 0);
  record[8] = type;
  let at = RECORD_HEADER_BYTES;
  for (const p of parts) {
    record.set(p, at);
    at += p.byteLength;
  }
  record.writeUInt32LE(crc32c(record, crc32c(record, 0, 0, 4), 8, total), 4);
  return record;
}

/** Where the valid record at `at` ends, or -1 when there is none (short, or a checksum that does not hold). */
export function validRecordEnd(data: Buffer, at: number): number {
  if (at + RECORD_HEADER_BYTES > data.length) return -1;
  const end = at + RECORD_HEADER_BYTES + data.readUInt32LE(at);
  if (end > data.length) return -1;
  const crc = crc32c(data, crc32c(data, 0, at, at + 4), at + 8, end);
  return crc === data.readUInt32LE(at + 4) ? end : -1;
}

/** A whole record's type and payload (a view), or undefined when it is not exactly one valid record. */
export function unframeRecord(record: Buffer): { type: number; payload: Buffer } | undefined {
  if (validRecordEnd(record, 0) !== record.length) return undefined;
  return { type: record[8]!, payload: record.subarray(RECORD_HEADER_BYTES) };
}
