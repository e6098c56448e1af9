import type { FrameReader } from "../protocol/frame-reader.js";

/**
 * Bytes read from one connection in one event-loop turn before it is paused until
 * the next: a flooding publisher then cannot hold the loop (and everyone's
 * heartbeats, timers and deliveries) for long.
 */
export const READ_BUDGET_BYTES = 256 * 1024;
/**
 * Queue entries one connection may create in one event-loop turn (a publish counts
 * once per queue it reaches) before the rest of its input waits for the next turn.
 * The read budget counts bytes, but a fanout to 1,000 queues turns 256 KiB of small
 * publishes into millions of entries: seconds of work in one turn without this.
 */
export const WORK_BUDGET_PER_TURN = 20_000;

/** What the gate needs of its connection. */
export interface ReadGateHost {
  /** The connection's state: only an open one is throttled; a closed one parses nothing more. */
  state(): "handshake" | "open" | "closing" | "closed";
  /** Whether something besides this turn's budgets holds the socket: a resource alarm, flow control. */
  heldElsewhere(): boolean;
  pauseReading(): void;
  /** Reading resumes (the heartbeat monitor starts afresh then). */
  resumeReading(): void;
  requestFlush(): void;
  /** Runs `fn` on a later event-loop turn. */
  defer(fn: () => void): void;
}

/**
 * Whether a connection's socket is read, and the budgets of one turn. The socket is
 * paused while anything holds it: the turn's read budget (bytes) or work budget
 * (queue entries: the frame reader then keeps the rest of its input, parsed on the
 * next turn), a resource alarm, or publisher flow control. Its state is all the
 * connection's heartbeat check needs: while the socket is not read the client's
 * heartbeats wait unread, so they are not counted as missing.
 */
export class ReadGate {
  private readThisTurn = 0;
  private workThisTurn = 0;
  /** Over a budget this turn: held until the turn's flush. */
  private throttled = false;
  private paused = false;
  private reader!: FrameReader;

  constructor(private readonly host: ReadGateHost) {}

  /** The frame reader whose kept input the gate resumes (set once, after both exist). */
  attach(reader: FrameReader): void {
    this.reader = reader;
  }

  /** Whether the socket is paused now (the heartbeat check is paused with it). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** For the frame reader: stop mid-chunk once the turn's work is spent. */
  get workSpent(): boolean {
    return this.workThisTurn >= WORK_BUDGET_PER_TURN;
  }

  /** Publishes made this many queue entries. */
  noteWork(entries: number): void {
    this.workThisTurn += entries;
  }

  /** A chunk was read and parsed (as far as the work budget let it). */
  received(bytes: number): void {
    this.readThisTurn += bytes;
    if (this.readThisTurn > READ_BUDGET_BYTES || this.reader.isPaused) this.throttle();
  }

  /** The turn's flush: budgets start again, and input kept back goes on next turn. */
  turnEnded(): void {
    this.readThisTurn = 0;
    this.workThisTurn = 0;
    if (!this.throttled) return;
    this.throttled = false;
    if (this.reader.isPaused) this.host.defer(() => this.continueReading());
    this.sync();
  }

  /**
   * Pauses or resumes the socket to match what holds it. Resuming restarts the
   * heartbeat monitor (RabbitMQ's rabbit_heartbeat:pause_monitor and resume_monitor).
   */
  sync(): void {
    const hold = this.throttled || this.reader.isPaused || this.host.heldElsewhere();
    if (hold === this.paused) return;
    this.paused = hold;
    if (hold) this.host.pauseReading();
    else this.host.resumeReading();
  }

  private throttle(): void {
    if (this.throttled || this.host.state() !== "open") return;
    this.throttled = true;
    this.sync();
    this.host.requestFlush();
  }

  /** A later turn: parse the input kept back, then read the socket again if nothing holds it. */
  private continueReading(): void {
    // A closing connection still reads its close-ok from what was kept.
    if (this.host.state() === "closed") return;
    this.reader.resume();
    if (this.reader.isPaused) this.throttle();
    this.sync();
  }
}
