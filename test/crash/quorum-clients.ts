/**
 * The clients of the quorum kill -9 campaign: a publisher with confirms and a consumer with
 * manual acks, each bound to one queue and started on one node, that move to the next node
 * of the cluster whenever their connection or channel dies (the node killed, or a node
 * just restarted that cannot serve yet) and carry on. Everything they see goes into the
 * QuorumLedger. `stop()` ends them: a publisher waits (bounded) for its answers first.
 */
import amqp from "amqplib";
import type { QuorumLedger } from "./quorum-ledger.js";

type Connection = Awaited<ReturnType<typeof amqp.connect>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a client waits before trying the next node after a failure. */
const RETRY_MS = 100;

interface Target {
  /** The AMQP URL of node i (the nodes keep their ports across restarts). */
  url(node: number): string;
  readonly nodeCount: number;
}

abstract class RoamingClient {
  protected stopped = false;
  /** Connections this client lost (its node died, or it was refused). */
  reconnects = 0;
  private loop: Promise<void> | undefined;

  constructor(
    protected readonly target: Target,
    protected node: number,
    protected readonly queue: string,
    protected readonly queueIndex: number,
    protected readonly ledger: QuorumLedger,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let conn: Connection | undefined;
      try {
        conn = await amqp.connect(this.target.url(this.node), { timeout: 2_000 });
        conn.on("error", () => {});
        const closed = new Promise<void>((resolve) => conn!.once("close", () => resolve()));
        await this.session(conn, closed);
      } catch {
        // Refused, reset, or the channel closed: the next node.
      }
      if (conn) await conn.close().catch(() => {});
      if (this.stopped) break;
      this.reconnects++;
      this.node = (this.node + 1) % this.target.nodeCount;
      await sleep(RETRY_MS);
    }
  }

  /** Uses one connection until it (or its channel) dies; resolves or throws then. */
  protected abstract session(conn: Connection, closed: Promise<void>): Promise<void>;

  /** Ends the client: a session in progress finishes (see `interrupt`), none starts. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt();
    await this.loop;
  }

  /** Makes the session in progress end soon after `stopped` is set. */
  protected abstract interrupt(): void;
}

export class RoamingPublisher extends RoamingClient {
  private outstanding = 0;
  private wake: (() => void) | undefined;

  constructor(
    target: Target,
    node: number,
    queue: string,
    queueIndex: number,
    ledger: QuorumLedger,
    private readonly window: number,
  ) {
    super(target, node, queue, queueIndex, ledger);
  }

  protected async session(conn: Connection, closed: Promise<void>): Promise<void> {
    const ch = await conn.createConfirmChannel();
    let dead = false;
    const chClosed = new Promise<void>((resolve) =>
      ch.once("close", () => {
        dead = true;
        resolve();
      }),
    );
    ch.on("error", () => {});
    ch.on("return", (m: amqp.Message) =>
      this.ledger.answer(Number(m.content.toString()), "returned", Date.now()),
    );
    void closed.then(() => {
      dead = true;
      this.wake?.();
    });
    void chClosed.then(() => this.wake?.());
    while (!this.stopped && !dead) {
      if (this.outstanding >= this.window) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        continue;
      }
      const id = this.ledger.publish(this.queueIndex, Date.now());
      this.outstanding++;
      try {
        ch.sendToQueue(
          this.queue,
          Buffer.from(String(id)),
          { persistent: true, mandatory: true },
          (err: Error | null) => {
            this.outstanding--;
            const answer = !err
              ? "confirmed"
              : err.message.includes("nack")
                ? "nacked"
                : "unanswered";
            this.ledger.answer(id, answer, Date.now());
            this.wake?.();
          },
        );
      } catch {
        // The channel closed under the publish: its callback will not run.
        this.outstanding--;
        this.ledger.answer(id, "unanswered", Date.now());
        break;
      }
      if (this.outstanding % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    if (!this.stopped) {
      await Promise.race([closed, chClosed]);
      return;
    }
    // Stopping: every publish answered (confirm, nack, or the channel's death) first, bounded
    // beyond the broker's own publish timeout (30 s).
    const deadline = Date.now() + 45_000;
    while (this.outstanding > 0 && !dead && Date.now() < deadline) await sleep(50);
  }

  protected interrupt(): void {
    this.wake?.();
  }
}

export class RoamingConsumer extends RoamingClient {
  /** basic.cancel received from the server. */
  cancels = 0;

  constructor(
    target: Target,
    node: number,
    queue: string,
    queueIndex: number,
    ledger: QuorumLedger,
    private readonly prefetch: number,
    private readonly label: string,
  ) {
    super(target, node, queue, queueIndex, ledger);
  }

  /** "c2@node1": the consumer and the node of its current connection (1-based). */
  private get name(): string {
    return `${this.label}@node${this.node + 1}`;
  }

  protected async session(conn: Connection, closed: Promise<void>): Promise<void> {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    const chClosed = new Promise<void>((resolve) => ch.once("close", () => resolve()));
    await ch.prefetch(this.prefetch);
    let cancelled!: () => void;
    const cancel = new Promise<void>((r) => {
      cancelled = r;
    });
    await ch.consume(this.queue, (m) => {
      if (!m) {
        this.cancels++;
        cancelled();
        return;
      }
      this.ledger.deliver(m.content.toString(), m.fields.redelivered, Date.now(), this.name);
      ch.ack(m);
    });
    this.end = cancelled;
    if (this.stopped) cancelled();
    await Promise.race([closed, chClosed, cancel]);
    this.end = undefined;
    // Cancelled: a new session (on the next node) consumes again.
    await ch.close().catch(() => {});
  }

  private end: (() => void) | undefined;

  protected interrupt(): void {
    this.end?.();
  }
}
