/**
 * The quorum queue simulation's clients, as the runtime on each node will drive a quorum
 * queue: commands go to the node the client's own node believes leads the group, over an
 * ordered link (as TCP: a message lost or refused breaks the session, and everything after
 * it on that session is dropped); every command stays pending until its outcome comes back
 * applied, and pending commands are resent, in order, on a new session after a leader change,
 * a refusal, a lost or unknown outcome, a broken session, or a silence. Publishers deduplicate
 * by their sequence numbers, so in-order resends are safe.
 *
 * A session is opened with one leader for one term, and the leader refuses (breaking the
 * session) what arrives on it once its term has changed, even when it leads again: without
 * that, commands a leader appended in its old term and then lost could be overtaken by later
 * ones it appends in its new term, and the machine, which takes any sequence number above the
 * last as new, would answer the lost ones as duplicates: confirmed, never enqueued (seeds 1,
 * 5, 11, 15 and 17 with term-blind sessions; rabbit_fifo refuses such a gap as out of
 * sequence).
 *
 * A client lives as long as its node's incarnation: a crash ends it (the leader learns of it
 * through a node-down), and what it had in flight is ignored on arrival (the leader monitors
 * the client's process, as ra does).
 */
import type { ProposalOutcome, ProposalReceipt } from "../../src/cluster/index.js";
import type { QuorumCommand } from "../../src/quorum/quorum-commands.js";
import { encodeQuorumCommand } from "../../src/quorum/quorum-commands.js";
import type { QuorumApplyResult, QuorumDelivery } from "../../src/quorum/quorum-machine.js";
import type { NodeId } from "../../src/raft/index.js";
import type { EventQueue } from "./event-queue.js";
import type { Prng } from "./prng.js";
import { QQ_GROUP } from "./quorum-queue-sim-ledger.js";
import type { SimNetwork } from "./sim-network.js";
import type { SimNode } from "./sim-node.js";

/**
 * A pending command unanswered this long on a session that looks fine is resent (with
 * everything after it): the safety net for an answer that cannot come (a deposed leader
 * that still believes it leads, a reply lost with its link). Resends add entries to the
 * log, so this is long.
 */
export const RESEND_AFTER_MS = 2_000;
/** After a session broke (a refusal, a loss), the client waits this long before resending. */
const BACKOFF_MS: readonly [number, number] = [20, 80];
/** A publisher with this many publishes unconfirmed waits (as a client waiting for confirms). */
export const MAX_UNCONFIRMED = 64;

/** Where a client runs: a node's incarnation. */
export interface Origin {
  readonly node: NodeId;
  readonly incarnation: number;
}

/** The node's name in the machine's commands: the incarnation, so a node-down names one. */
export function originName(origin: Origin): string {
  return `${origin.node}@${origin.incarnation}`;
}

export interface ClientWorld {
  readonly queue: EventQueue;
  readonly prng: Prng;
  readonly network: SimNetwork;
  node(id: NodeId): SimNode | undefined;
  incarnationOf(id: NodeId): number;
  /** The origin's incarnation is running (null: the leader's own agent, always). */
  alive(origin: Origin | null): boolean;
  /** The leader and its term as the origin's node sees them (null: the newest leader). */
  leaderFor(origin: Origin | null): Leader | undefined;
  trace(line: string): void;
}

interface Pending {
  readonly command: QuorumCommand;
  readonly bytes: Uint8Array;
  readonly onApplied: (result: QuorumApplyResult) => void;
  /** A planted bug's hook: true settles the command when the leader accepts it. */
  readonly onAccepted: ((receipt: ProposalReceipt) => boolean) | undefined;
  sentAtMs: number;
  /** The session it was last sent on (null: not sent yet). */
  session: Session | null;
}

export interface Leader {
  readonly id: NodeId;
  readonly term: number;
}

interface Session {
  readonly target: NodeId;
  readonly targetIncarnation: number;
  readonly term: number;
  broken: boolean;
  lastArrivalMs: number;
  /** Sent and not yet taken in by the leader, in order (a paused leader holds them all). */
  readonly wire: { readonly pending: Pending; readonly atMs: number }[];
}

export class ClientLink {
  readonly pending: Pending[] = [];
  private session: Session | null = null;
  private retryAtMs = 0;

  constructor(
    private readonly world: ClientWorld,
    readonly origin: Origin | null,
  ) {}

  submit(
    command: QuorumCommand,
    onApplied: (result: QuorumApplyResult) => void = () => {},
    onAccepted?: (receipt: ProposalReceipt) => boolean,
  ): void {
    const pending: Pending = {
      command,
      bytes: encodeQuorumCommand(command),
      onApplied,
      onAccepted,
      sentAtMs: this.world.queue.nowMs,
      session: null,
    };
    const carried = this.carriesAll();
    this.pending.push(pending);
    if (carried && this.usable()) this.send(this.session!, pending);
    else this.tick();
  }

  /** Every pending command went out on the current session (none was held back meanwhile). */
  private carriesAll(): boolean {
    return this.pending.every((p) => p.session === this.session);
  }

  /** The current session goes to the leader the origin sees, in that leader's term. */
  private usable(): boolean {
    const s = this.session;
    const leader = this.world.leaderFor(this.origin);
    return (
      s !== null &&
      !s.broken &&
      leader !== undefined &&
      s.target === leader.id &&
      s.term === leader.term &&
      s.targetIncarnation === this.world.incarnationOf(s.target)
    );
  }

  private break(session: Session): void {
    if (session.broken) return;
    session.broken = true;
    if (session === this.session) {
      this.retryAtMs = this.world.queue.nowMs + this.world.prng.between(...BACKOFF_MS);
    }
  }

  private originPaused(): boolean {
    if (this.origin === null) return false;
    return this.world.node(this.origin.node)?.paused() ?? true;
  }

  /** Resends everything pending, in order, on a new session when the current one will not do. */
  tick(): void {
    const { world } = this;
    if (this.pending.length === 0 || !world.alive(this.origin) || this.originPaused()) return;
    const quiet = world.queue.nowMs - this.pending[0]!.sentAtMs < RESEND_AFTER_MS;
    if (this.usable() && this.carriesAll() && quiet) return;
    if (world.queue.nowMs < this.retryAtMs) return;
    const leader = world.leaderFor(this.origin);
    if (leader === undefined) return;
    const session: Session = {
      target: leader.id,
      term: leader.term,
      targetIncarnation: world.incarnationOf(leader.id),
      broken: false,
      lastArrivalMs: 0,
      wire: [],
    };
    this.session = session;
    for (const pending of this.pending) {
      pending.sentAtMs = world.queue.nowMs;
      this.send(session, pending);
    }
  }

  private delayMs(): number {
    const c = this.world.network.conditions;
    return this.world.prng.between(c.minDelayMs, c.maxDelayMs);
  }

  /** One command over the session: ordered, so it never overtakes an earlier one. */
  private send(session: Session, pending: Pending): void {
    const { queue } = this.world;
    pending.session = session;
    const arrival = Math.max(queue.nowMs + this.delayMs(), session.lastArrivalMs);
    session.lastArrivalMs = arrival;
    session.wire.push({ pending, atMs: arrival });
    queue.at(arrival, () => this.takeIn(session));
  }

  /** The leader's node takes in what has arrived, in order; while paused, it all waits. */
  private takeIn(session: Session): void {
    const { world } = this;
    while (session.wire.length > 0 && session.wire[0]!.atMs <= world.queue.nowMs) {
      const node = world.node(session.target);
      if (node?.up === true && node.paused()) {
        world.queue.at(node.pausedUntilMs, () => this.takeIn(session));
        return;
      }
      this.arrive(session, session.wire.shift()!.pending);
    }
  }

  private arrive(session: Session, pending: Pending): void {
    const { world } = this;
    if (!world.alive(this.origin) || session.broken) return;
    const node = world.node(session.target);
    if (
      node === undefined ||
      !node.up ||
      world.incarnationOf(session.target) !== session.targetIncarnation
    ) {
      this.break(session);
      return;
    }
    const lossy = world.prng.chance(world.network.conditions.lossProbability / 4);
    if ((this.origin !== null && world.network.isCut(this.origin.node, session.target)) || lossy) {
      this.break(session);
      return;
    }
    const status = node.machine(QQ_GROUP)?.status();
    if (status === undefined || status.role !== "leader" || status.term !== session.term) {
      this.break(session);
      return;
    }
    const receipt = node.act(QQ_GROUP, (driver) =>
      driver.propose(QQ_GROUP, pending.bytes, (outcome) =>
        this.answered(session, pending, outcome as ProposalOutcome<QuorumApplyResult>),
      ),
    );
    if (receipt === undefined || !receipt.ok) {
      this.break(session);
      return;
    }
    if (pending.onAccepted?.(receipt)) this.settle(pending);
  }

  /** The outcome travels back from the leader; applied settles the command, else resend. */
  private answered(
    session: Session,
    pending: Pending,
    outcome: ProposalOutcome<QuorumApplyResult>,
  ): void {
    const { world } = this;
    world.queue.after(this.delayMs(), () => {
      if (!world.alive(this.origin)) return;
      if (this.origin !== null && world.network.isCut(session.target, this.origin.node)) {
        this.break(session);
        return;
      }
      if (outcome.status !== "applied") {
        this.break(session);
        return;
      }
      if (this.settle(pending)) pending.onApplied(outcome.result);
    });
  }

  private settle(pending: Pending): boolean {
    const at = this.pending.indexOf(pending);
    if (at < 0) return false;
    this.pending.splice(at, 1);
    return true;
  }
}

/** What the clients report to the simulation. */
export interface ClientLedger {
  confirm(key: string): void;
  nack(key: string): void;
  /** A live consumer received a delivery it had not seen (id and generation). */
  received(consumer: SimConsumer, delivery: QuorumDelivery, generation: number): void;
}

export class SimPublisher {
  private seq = 0;
  published = 0;
  readonly link: ClientLink;

  constructor(
    private readonly world: ClientWorld,
    private readonly ledger: ClientLedger,
    readonly key: string,
    readonly origin: Origin,
    /** The planted bug: confirm as soon as the leader accepts the proposal. */
    private readonly confirmOnAccept: boolean,
  ) {
    this.link = new ClientLink(world, origin);
  }

  alive(): boolean {
    return this.world.alive(this.origin);
  }

  /** Publishes one message, unless too many wait for their confirms. */
  publish(): void {
    if (this.link.pending.length >= MAX_UNCONFIRMED) return;
    const seq = ++this.seq;
    const key = `${this.key}#${seq}`;
    const payload = new TextEncoder().encode(key);
    this.published++;
    const command: QuorumCommand = {
      type: "enqueue",
      publisher: this.key,
      node: originName(this.origin),
      seq,
      nowMs: Math.floor(this.world.queue.nowMs),
      expiresAtMs: 0,
      high: this.world.prng.chance(0.2),
      size: payload.byteLength,
      payload,
    };
    const onAccepted = this.confirmOnAccept
      ? () => {
          this.ledger.confirm(key);
          return true;
        }
      : undefined;
    this.link.submit(
      command,
      (result) => {
        if (result.reply.type === "enqueue" && result.reply.accepted) this.ledger.confirm(key);
        else this.ledger.nack(key);
      },
      onAccepted,
    );
  }
}

export class SimConsumer {
  readonly link: ClientLink;
  /** Its client still has its channel open (not closed, node not down). */
  open = true;
  cancelled = false;
  /** Message id -> the generation held (the message's checkout count at delivery). */
  readonly held = new Map<number, number>();
  private readonly seen = new Set<string>();

  constructor(
    private readonly world: ClientWorld,
    private readonly ledger: ClientLedger,
    readonly key: string,
    readonly origin: Origin,
    readonly window: number,
    /** Ack at once (the drain), rather than after a while with returns and rejects. */
    private readonly draining: () => boolean,
  ) {
    this.link = new ClientLink(world, origin);
  }

  alive(): boolean {
    return this.open && this.world.alive(this.origin);
  }

  start(): void {
    this.link.submit({
      type: "checkout",
      consumer: this.key,
      node: originName(this.origin),
      tag: this.key,
      window: this.window,
      priority: 0,
      nowMs: Math.floor(this.world.queue.nowMs),
    });
  }

  /** A delivery reached its node; the same one again (from a new leader) is ignored. */
  receive(delivery: QuorumDelivery, generation: number): void {
    if (!this.alive()) return;
    const tag = `${delivery.id}:${generation}`;
    if (this.seen.has(tag)) return;
    this.seen.add(tag);
    this.ledger.received(this, delivery, generation);
    this.held.set(delivery.id, generation);
    const { prng, queue } = this.world;
    const delayMs = this.draining()
      ? prng.between(0, 2)
      : prng.chance(0.05)
        ? prng.between(100, 800)
        : prng.between(0, 25);
    queue.after(delayMs, () => this.handle(delivery.id, generation));
  }

  private handle(id: number, generation: number): void {
    if (!this.alive() || this.held.get(id) !== generation) return;
    this.held.delete(id);
    const roll = this.draining() ? 0 : this.world.prng.next();
    const type = roll < 0.8 ? "settle" : roll < 0.97 ? "return" : "discard";
    const nowMs = Math.floor(this.world.queue.nowMs);
    this.link.submit({ type, consumer: this.key, ids: [id], nowMs });
  }

  /** basic.cancel: no more deliveries; what it holds is still its client's to settle. */
  cancel(): void {
    if (this.cancelled || !this.alive()) return;
    this.cancelled = true;
    const nowMs = Math.floor(this.world.queue.nowMs);
    this.link.submit({ type: "cancel", consumer: this.key, nowMs });
  }

  /** The channel closes: what it holds goes back (the node's runtime still sends the remove). */
  close(): void {
    if (!this.alive()) return;
    this.open = false;
    this.held.clear();
    const nowMs = Math.floor(this.world.queue.nowMs);
    this.link.submit({ type: "remove", consumer: this.key, nowMs });
  }
}
