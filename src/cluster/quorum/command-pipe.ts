/**
 * One node's commands to one quorum queue, in order (rabbit_fifo_client's job): each is sent
 * to the replica that leads the queue's group, and when a send fails (not the leader, a link
 * lost, no answer) every unanswered command is sent again, in the same order, to the leader
 * found next. Resending is safe: enqueues carry the publisher's sequence number (the machine
 * applies each once), and settles, checkouts and cancels mean the same applied twice.
 * A command not applied within its deadline is failed (a publish is then nacked).
 */
import type { ProposeAnswer } from "./quorum-wire.js";

/** Sends one command to one node and answers as that node's replica did. */
export type ProposeOnce = (to: string, command: Uint8Array) => Promise<ProposeAnswer>;

export interface CommandPipeOptions {
  readonly send: ProposeOnce;
  /** Where to send now: the known leader, else a member to ask. */
  readonly target: () => string | undefined;
  /** A node answered that it does not lead (with the leader it knows, if any). */
  readonly notLeader: (node: string, leader: string | null) => void;
  readonly clock: () => number;
  readonly setTimer: (fn: () => void, ms: number) => { cancel(): void };
  /** Commands sent and not answered at once; the rest wait. */
  readonly maxInFlight?: number;
}

interface Piped {
  readonly command: Uint8Array;
  readonly deadlineMs: number;
  readonly done: (answer: ProposeAnswer) => void;
  sent: boolean;
  finished: boolean;
}

const RETRY_MS = 100;
const DEFAULT_MAX_IN_FLIGHT = 4_096;

export class CommandPipe {
  private readonly waiting: Piped[] = [];
  private head = 0;
  /** Every command before this index was sent in the current round (or finished). */
  private nextUnsent = 0;
  private epoch = 0;
  private inFlight = 0;
  private retry: { cancel(): void } | undefined;
  private closed = false;
  private readonly maxInFlight: number;

  constructor(private readonly options: CommandPipeOptions) {
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  /** Commands not yet applied. */
  get pending(): number {
    return this.waiting.length - this.head;
  }

  submit(command: Uint8Array, timeoutMs: number): Promise<ProposeAnswer> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve({ status: "failed", detail: "the queue was deleted" });
        return;
      }
      this.waiting.push({
        command,
        deadlineMs: this.options.clock() + timeoutMs,
        done: resolve,
        sent: false,
        finished: false,
      });
      this.pump();
    });
  }

  /** The leader may have changed (a link lost, a replica's new role): send everything again. */
  resend(): void {
    this.epoch++;
    this.inFlight = 0;
    this.markUnsent();
    this.pump();
  }

  private markUnsent(): void {
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]!.sent = false;
    this.nextUnsent = this.head;
  }

  /** Fails what is overdue; called from the node's tick. */
  expire(nowMs: number): void {
    for (let i = this.head; i < this.waiting.length; i++) {
      const p = this.waiting[i]!;
      if (p.finished || p.deadlineMs > nowMs) continue;
      this.finish(p, { status: "failed", detail: "no leader applied it in time" });
    }
    this.compact();
  }

  close(detail: string): void {
    this.closed = true;
    this.retry?.cancel();
    for (let i = this.head; i < this.waiting.length; i++)
      this.finish(this.waiting[i]!, { status: "failed", detail });
    this.compact();
  }

  private pump(): void {
    if (this.closed || this.retry !== undefined) return;
    const to = this.options.target();
    if (to === undefined) {
      this.retryLater();
      return;
    }
    const epoch = this.epoch;
    // From the first command not sent yet: a window of thousands is not walked per message.
    let i = Math.max(this.nextUnsent, this.head);
    for (; i < this.waiting.length && this.inFlight < this.maxInFlight; i++) {
      const p = this.waiting[i]!;
      if (p.sent || p.finished) continue;
      p.sent = true;
      this.inFlight++;
      this.options.send(to, p.command).then(
        (answer) => this.answered(p, answer, to, epoch),
        (error: unknown) =>
          this.answered(p, { status: "failed", detail: String(error) }, to, epoch),
      );
    }
    this.nextUnsent = i;
  }

  private answered(p: Piped, answer: ProposeAnswer, from: string, epoch: number): void {
    if (epoch === this.epoch) this.inFlight--;
    if (answer.status === "applied") {
      this.finish(p, answer);
      this.compact();
      this.pump();
      return;
    }
    // A failure from an earlier round says nothing about the current one.
    if (epoch !== this.epoch || p.finished) return;
    if (answer.status === "not-leader") this.options.notLeader(from, answer.leader);
    this.epoch++;
    this.inFlight = 0;
    this.markUnsent();
    if (answer.status === "not-leader" && answer.leader !== null) this.pump();
    else this.retryLater();
  }

  private retryLater(): void {
    if (this.retry !== undefined || this.closed || this.pending === 0) return;
    this.retry = this.options.setTimer(() => {
      this.retry = undefined;
      this.pump();
    }, RETRY_MS);
  }

  private finish(p: Piped, answer: ProposeAnswer): void {
    if (p.finished) return;
    p.finished = true;
    p.done(answer);
  }

  /** Drops finished commands from the front. */
  private compact(): void {
    while (this.head < this.waiting.length && this.waiting[this.head]!.finished) this.head++;
    if (this.head > 1_024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.nextUnsent = Math.max(0, this.nextUnsent - this.head);
      this.head = 0;
    }
  }
}
