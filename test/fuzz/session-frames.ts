/**
 * A recorded client session (the bytes a client sent to the broker) cut into its
 * protocol header and frames, so mutations can work frame by frame and splice frames
 * between sessions. Bytes that do not parse as frames stay together in `tail`.
 */
export interface SessionParts {
  header: Buffer;
  frames: Buffer[];
  tail: Buffer;
}

const FRAME_END = 0xce;

export function splitSession(bytes: Buffer): SessionParts {
  const header = bytes.subarray(0, Math.min(8, bytes.length));
  const frames: Buffer[] = [];
  let at = header.length;
  while (at + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(at + 3);
    const end = at + 7 + size + 1;
    if (end > bytes.length || bytes[end - 1] !== FRAME_END) break;
    frames.push(bytes.subarray(at, end));
    at = end;
  }
  return { header, frames, tail: bytes.subarray(at) };
}

export function joinSession(parts: SessionParts): Buffer {
  return Buffer.concat([parts.header, ...parts.frames, parts.tail]);
}

/** Frame type, channel and (for a method frame) class and method ids, for reports. */
export function describeFrameBytes(frame: Buffer): string {
  if (frame.length < 7) return `fragment(${frame.length})`;
  const type = frame[0];
  const channel = frame.readUInt16BE(1);
  if (type === 1 && frame.length >= 11)
    return `method ch${channel} ${frame.readUInt16BE(7)}.${frame.readUInt16BE(9)}`;
  return `type${type} ch${channel} size${frame.readUInt32BE(3)}`;
}
