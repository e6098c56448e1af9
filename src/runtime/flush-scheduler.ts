import type net from "node:net";
import type { AmqpConnection } from "../connection/amqp-connection.js";
import type { TaskTimer } from "../doctor/stalls.js";
import type { Broker } from "../vhost/broker.js";

/**
 * Milliseconds of each turn that chores may use: the rest of the turn is for
 * connections, timers and the management API.
 */
const CHORE_MS_PER_TURN = 8;

/**
 * Writes each connection's frames once per event-loop turn (DESIGN §7). Work in a
 * turn (reading every socket that had data in the poll phase) queues frames; one
 * setImmediate then resumes deferred dispatches and writes every connection's
 * frames in one vectored write.
 */
export class FlushScheduler {
  private readonly sockets = new Map<AmqpConnection, net.Socket>();
  private readonly pending = new Set<AmqpConnection>();
  private scheduled = false;

  constructor(
    private readonly broker: Broker,
    private readonly tasks?: TaskTimer,
  ) {}

  /** Asks for a run of the turn's flush (the store calls it when it has records to write). */
  wake(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  attach(conn: AmqpConnection, socket: net.Socket): void {
    this.sockets.set(conn, socket);
  }

  detach(conn: AmqpConnection): void {
    this.sockets.delete(conn);
    this.pending.delete(conn);
  }

  schedule(conn: AmqpConnection): void {
    this.pending.add(conn);
    this.wake();
  }

  /** Writes one connection's frames at once (before closing its socket). */
  writeNow(conn: AmqpConnection): void {
    this.pending.delete(conn);
    this.write(conn);
  }

  private readonly run = (): void => {
    if (this.tasks) this.tasks.timed(this.describeRun, this.runTurn);
    else this.runTurn();
  };

  private readonly describeRun = (): string => {
    const chores = this.broker.chores.describe();
    return `the turn's flush (dispatch, store writes, socket writes${chores.length ? `, chores: ${chores.join("; ")}` : ""})`;
  };

  private readonly runTurn = (): void => {
    this.scheduled = false;
    // Chores (purges, deletes, mass expiry) get a few milliseconds of each turn.
    const started = performance.now();
    const choresLeft =
      this.broker.chores.size > 0 &&
      this.broker.chores.run(
        this.broker.clock(),
        () => performance.now() - started > CHORE_MS_PER_TURN,
      );
    // Dispatches that yielded at their batch limit continue first; they add output.
    this.broker.runPendingDispatch();
    // Store records (publishes, settles, delivery counts) are written before the frames
    // that depend on them leave, so a crashed process never told a client more than
    // its files know. Their fdatasync runs meanwhile; confirms wait for it.
    this.broker.store?.flush();
    for (const conn of this.pending) this.write(conn);
    this.pending.clear();
    if ((this.broker.pendingDispatch.size > 0 || choresLeft) && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  };

  private write(conn: AmqpConnection): void {
    const socket = this.sockets.get(conn);
    const chunks = conn.flush();
    if (!socket || socket.destroyed || chunks.length === 0) return;
    if (chunks.length === 1) {
      socket.write(chunks[0]!);
      return;
    }
    socket.cork();
    for (const c of chunks) socket.write(c);
    socket.uncork();
  }
}
