/**
 * Checksummed records in an append-only file. Each record is
 *
 *   u32 LE payload length | u32 LE CRC-32C of the payload | payload
 *
 * A crash can leave the last record torn (short, or with garbage): scanning stops at the first
 * record whose header or checksum does not hold, and reports where the valid prefix ends so
 * the writer can cut the file there and go on appending.
 */
import { crc32c } from "./crc32c.js";

export const RECORD_HEADER_BYTES = 8;
/** A record larger than this is taken as garbage rather than read. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function frameRecord(payload: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.byteLength);
  framed.writeUInt32LE(payload.byteLength, 0);
  framed.writeUInt32LE(crc32c(payload), 4);
  framed.set(payload, RECORD_HEADER_BYTES);
  return framed;
}

export interface ScanResult {
  /** Payloads of the valid records, in order (views into the scanned buffer). */
  readonly payloads: Buffer[];
  /** Byte offset just past the last valid record. */
  readonly validEndBytes: number;
  /** True if bytes after validEndBytes did not form a valid record. */
  readonly damaged: boolean;
}

export function scanRecords(bytes: Buffer): ScanResult {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_BYTES) break;
    const length = bytes.readUInt32LE(offset);
    const checksum = bytes.readUInt32LE(offset + 4);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES || end > bytes.length) break;
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32c(payload) !== checksum) break;
    payloads.push(payload);
    offset = end;
  }
  return { payloads, validEndBytes: offset, damaged: offset < bytes.length };
}
