/**
 * What the quorum kill -9 campaign saw, message by message: every id published (and to
 * which queue), how its publish was answered (confirmed, nacked, returned, or no answer
 * because the connection died first), every delivery with its redelivered flag, and the
 * moments of the kills with the first confirm each queue gave after them. `figures()` turns
 * it into the campaign's report; nothing here touches a socket.
 */

export type PublishAnswer = "confirmed" | "nacked" | "returned" | "unanswered";

export interface KillMark {
  readonly round: number;
  readonly node: string;
  /** Whether the node led at least one queue when it was killed. */
  readonly leader: boolean;
  readonly atMs: number;
  /**
   * Per queue: when the first confirm of a message published after the kill arrived
   * (undefined: none yet). Confirms already on their way when the node died do not count.
   */
  readonly firstConfirmMs: (number | undefined)[];
}

/** One delivery of a message: when, to which client (e.g. "c2@node1"), and its flag. */
export interface DeliveryRecord {
  readonly atMs: number;
  readonly by: string;
  readonly redelivered: boolean;
}

export interface Figures {
  readonly published: number;
  readonly confirmed: number;
  readonly nacked: number;
  /** Returned unroutable (mandatory): counted apart, never as confirmed. */
  readonly returned: number;
  /** The connection died before an answer: may or may not be in the queue. */
  readonly unanswered: number;
  /** Distinct ids delivered at least once. */
  readonly delivered: number;
  readonly deliveries: number;
  /** Confirmed and never delivered. Must be 0. */
  readonly lost: number[];
  /** Ids delivered more than once. */
  readonly duplicated: number;
  /** Ids delivered more than once with a repeat not flagged redelivered. */
  readonly duplicatedWithoutRedelivered: number[];
  /**
   * The first few of those, each delivery timed from the last kill before it (ms) and named
   * by the kill's round and node, to read against the nodes' logs.
   */
  readonly duplicatesWithoutFlagDetail: string[];
  /** Delivered but never published by this campaign (a corrupted body): must be 0. */
  readonly unknown: number;
  /**
   * Kill to the first confirm, in every queue, of a message published after the kill, ms
   * (one figure per kill: its slowest queue).
   */
  readonly recoveryMs: { p50: number; p99: number; max: number; never: number };
  /** The same, only the kills of a node that led a queue. */
  readonly leaderRecoveryMs: { p50: number; p99: number; max: number; never: number };
}

export class QuorumLedger {
  private nextId = 1;
  /** Id -> queue index. */
  private readonly queues = new Map<number, number>();
  /** Id -> when it was published. */
  private readonly sentAt = new Map<number, number>();
  private readonly answers = new Map<number, PublishAnswer>();
  /** Id -> each of its deliveries, in arrival order. */
  private readonly deliveriesOf = new Map<number, DeliveryRecord[]>();
  private deliveryCount = 0;
  private unknownDeliveries = 0;
  readonly kills: KillMark[] = [];
  private lastDeliveryMs = 0;

  constructor(readonly queueCount: number) {}

  /** A new id for a message about to be published to queue `queue`. */
  publish(queue: number, nowMs: number): number {
    const id = this.nextId++;
    this.queues.set(id, queue);
    this.sentAt.set(id, nowMs);
    return id;
  }

  answer(id: number, answer: PublishAnswer, nowMs: number): void {
    const earlier = this.answers.get(id);
    // A return comes before its confirm; the confirm does not make it confirmed.
    if (earlier === "returned") return;
    this.answers.set(id, answer);
    if (answer !== "confirmed") return;
    const queue = this.queues.get(id)!;
    const sentAt = this.sentAt.get(id)!;
    for (const mark of this.kills) {
      if (mark.firstConfirmMs[queue] === undefined && sentAt >= mark.atMs) {
        mark.firstConfirmMs[queue] = nowMs;
      }
    }
  }

  deliver(body: string, redelivered: boolean, nowMs: number, by: string): void {
    this.deliveryCount++;
    this.lastDeliveryMs = nowMs;
    const id = Number(body);
    if (!Number.isInteger(id) || !this.queues.has(id)) {
      this.unknownDeliveries++;
      return;
    }
    const record = { atMs: nowMs, by, redelivered };
    const seen = this.deliveriesOf.get(id);
    if (seen) seen.push(record);
    else this.deliveriesOf.set(id, [record]);
  }

  kill(round: number, node: string, leader: boolean, atMs: number): void {
    this.kills.push({
      round,
      node,
      leader,
      atMs,
      firstConfirmMs: new Array(this.queueCount).fill(undefined),
    });
  }

  queueOf(id: number): number | undefined {
    return this.queues.get(id);
  }

  get published(): number {
    return this.nextId - 1;
  }

  get lastDeliveryAtMs(): number {
    return this.lastDeliveryMs;
  }

  /** Confirmed ids not delivered yet. */
  undelivered(): number[] {
    const out: number[] = [];
    for (const [id, answer] of this.answers) {
      if (answer === "confirmed" && !this.deliveriesOf.has(id)) out.push(id);
    }
    return out;
  }

  /** The kill's recovery: until every queue confirmed again (undefined: one never did). */
  static recoveryOf(mark: KillMark): number | undefined {
    let worst = 0;
    for (const t of mark.firstConfirmMs) {
      if (t === undefined) return undefined;
      worst = Math.max(worst, t - mark.atMs);
    }
    return worst;
  }

  /** "id 17 (queue 0): c1@node2 at round 3 (node2) +1200 ms, redelivered=false; ..." */
  private describe(id: number): string {
    const sent = this.sentAt.get(id)!;
    const at = (t: number) => {
      const kill = this.kills.filter((k) => k.atMs <= t).at(-1);
      return kill === undefined
        ? `${t - sent} ms after its publish`
        : `round ${kill.round} (${kill.node} killed) +${t - kill.atMs} ms`;
    };
    const records = this.deliveriesOf.get(id) ?? [];
    return (
      `id ${id} (queue ${this.queues.get(id)}, published at ${at(sent)}): ` +
      records.map((r) => `${r.by} at ${at(r.atMs)} redelivered=${r.redelivered}`).join("; ")
    );
  }

  figures(): Figures {
    const count = (a: PublishAnswer) => [...this.answers.values()].filter((x) => x === a).length;
    let duplicated = 0;
    const withoutFlag: number[] = [];
    for (const [id, records] of this.deliveriesOf) {
      if (records.length < 2) continue;
      duplicated++;
      if (records.slice(1).some((r) => !r.redelivered)) withoutFlag.push(id);
    }
    const answered = this.answers.size;
    return {
      published: this.published,
      confirmed: count("confirmed"),
      nacked: count("nacked"),
      returned: count("returned"),
      unanswered: count("unanswered") + (this.published - answered),
      delivered: this.deliveriesOf.size,
      deliveries: this.deliveryCount,
      lost: this.undelivered(),
      duplicated,
      duplicatedWithoutRedelivered: withoutFlag,
      duplicatesWithoutFlagDetail: withoutFlag.slice(0, 10).map((id) => this.describe(id)),
      unknown: this.unknownDeliveries,
      recoveryMs: percentiles(this.kills.map(QuorumLedger.recoveryOf)),
      leaderRecoveryMs: percentiles(
        this.kills.filter((k) => k.leader).map(QuorumLedger.recoveryOf),
      ),
    };
  }
}

/** p50, p99 and max of the figures that exist; `never` counts the missing ones. */
export function percentiles(values: readonly (number | undefined)[]): {
  p50: number;
  p99: number;
  max: number;
  never: number;
} {
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const at = (q: number) =>
    known.length === 0 ? 0 : known[Math.min(known.length - 1, Math.ceil(q * known.length) - 1)]!;
  return {
    p50: at(0.5),
    p99: at(0.99),
    max: known.at(-1) ?? 0,
    never: values.length - known.length,
  };
}
