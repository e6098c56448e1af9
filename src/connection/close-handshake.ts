import { FrameType } from "../protocol/generated/constants.js";

// The close handshakes of AMQP 0-9-1 (§2.2.4 connection, §2.3.5.2 channel) as RabbitMQ
// runs them: which frames still matter while closing, and how long the client is waited for.

/** How long we wait for the client's connection.close-ok before closing the socket anyway. */
export const CLOSE_OK_TIMEOUT_MS = 3_000;

/** The longest a socket is left to its client after our close-ok (RabbitMQ's ?CLOSING_TIMEOUT). */
export const CLOSING_TIMEOUT_MAX_SEC = 30;

/**
 * After our close-ok to a client's connection.close the socket is the client's to close;
 * we close it ourselves after the negotiated heartbeat timeout, or 30 s when that is 0 or
 * longer, as rabbit_reader:close_connection does.
 */
export function closingTimeoutMs(heartbeatSec: number): number {
  const sec =
    heartbeatSec > 0 && heartbeatSec < CLOSING_TIMEOUT_MAX_SEC
      ? heartbeatSec
      : CLOSING_TIMEOUT_MAX_SEC;
  return sec * 1000;
}

/**
 * What a closing connection waits for from its client, and until when: the close-ok for
 * our connection.close, or, after our close-ok to its connection.close, the end of its
 * socket. The connection's tick closes the socket once the deadline has passed.
 */
export class ClosingDeadline {
  private dueAtMs: number | undefined;

  /** We sent connection.close. */
  awaitCloseOk(nowMs: number): void {
    this.dueAtMs = nowMs + CLOSE_OK_TIMEOUT_MS;
  }

  /** We sent close-ok to the client's connection.close. */
  awaitSocketClose(nowMs: number, heartbeatSec: number): void {
    this.dueAtMs = nowMs + closingTimeoutMs(heartbeatSec);
  }

  /** Whether the client still has something to do (the socket is open for it). */
  get pending(): boolean {
    return this.dueAtMs !== undefined;
  }

  passed(nowMs: number): boolean {
    return this.dueAtMs !== undefined && nowMs > this.dueAtMs;
  }

  clear(): void {
    this.dueAtMs = undefined;
  }
}

/** The close method a frame carries, judged from its first bytes (before any decoding). */
export function closeMethodOf(type: number, payload: Buffer): CloseMethod | undefined {
  if (type !== FrameType.Method || payload.length < 4) return undefined;
  return CLOSE_METHODS.get(payload.readUInt32BE(0));
}

export type CloseMethod =
  | "connection.close"
  | "connection.close-ok"
  | "channel.close"
  | "channel.close-ok";

const CLOSE_METHODS = new Map<number, CloseMethod>([
  [0x000a0032, "connection.close"], // 10,50
  [0x000a0033, "connection.close-ok"], // 10,51
  [0x00140028, "channel.close"], // 20,40
  [0x00140029, "channel.close-ok"], // 20,41
]);
