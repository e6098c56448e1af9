/**
 * The quorum queue simulation's ledger: a simple model of who holds which message, fed with
 * the committed log as the replicas apply it (each index once, in order: the first replica
 * to apply it reports the command and what the machine answered). The machine's effects are
 * checked against the model as they are applied:
 *
 *   - a message is delivered only while nobody holds it: a second delivery needs the holder
 *     to have returned it, or to have been removed (channel closed, node down) in between;
 *   - a delivery is flagged redelivered exactly when the message was delivered before;
 *   - nothing is delivered after it ended (acked, discarded, dead-lettered);
 *   - a publish is enqueued once: a second enqueue of one publisher's sequence number is a
 *     duplicate, allowed only once the publisher's node went down (its dedup state goes).
 *
 * At the end, every confirmed publish must have ended by the client's choice (acked,
 * discarded, or dead-lettered past the delivery limit): lost = confirmed and not ended.
 */
import type { QuorumCommand } from "../../src/quorum/quorum-commands.js";
import { DEFAULT_QUORUM_CONFIG, decodeQuorumCommand } from "../../src/quorum/quorum-commands.js";
import type { QuorumApplyResult } from "../../src/quorum/quorum-machine.js";
import type { LogEntry } from "../../src/raft/index.js";
import type { Violation } from "./invariant-checker.js";

export const QQ_GROUP = "qq";

type Ending = "acked" | "discarded" | "dead-lettered";

interface MessageRecord {
  readonly id: number;
  readonly key: string;
  holder: string | undefined;
  deliveries: number;
  returns: number;
  ended: Ending | undefined;
}

export class QuorumLedger {
  readonly violations: Violation[] = [];
  appliedIndex = 0;
  private readonly messages = new Map<number, MessageRecord>();
  private readonly idsOfKey = new Map<string, number[]>();
  /** Consumer -> its node, from the checkouts applied. */
  private readonly consumerNode = new Map<string, string>();
  private deliveryLimit = DEFAULT_QUORUM_CONFIG.deliveryLimit;
  deliveries = 0;
  redeliveries = 0;
  /** Publishes enqueued twice after their publisher's node went down (allowed). */
  duplicates = 0;

  constructor(
    private readonly clockMs: () => number,
    /** Whether a publisher (by key) is still alive: a duplicate of a live one is a bug. */
    private readonly publisherAlive: (publisher: string) => boolean,
  ) {}

  fault(invariant: string, detail: string): void {
    this.violations.push({ invariant, groupId: QQ_GROUP, timeMs: this.clockMs(), detail });
  }

  /** A replica applied this entry; only the first report of each index counts. */
  committed(entry: LogEntry, result: QuorumApplyResult): void {
    if (entry.index <= this.appliedIndex) return;
    if (entry.index !== this.appliedIndex + 1) {
      this.fault("ledger", `index ${entry.index} applied first after ${this.appliedIndex}`);
    }
    this.appliedIndex = entry.index;
    if (entry.kind !== "command") return;
    this.apply(entry.index, decodeQuorumCommand(entry.data), result);
  }

  private apply(index: number, c: QuorumCommand, result: QuorumApplyResult): void {
    switch (c.type) {
      case "enqueue":
        this.enqueue(index, c, result);
        break;
      case "checkout":
        this.consumerNode.set(c.consumer, c.node);
        break;
      case "settle":
        this.end(c.consumer, c.ids, "acked");
        break;
      case "discard":
        this.end(c.consumer, c.ids, "discarded");
        break;
      case "return":
        for (const record of this.heldBy(c.consumer, c.ids)) {
          record.holder = undefined;
          record.returns++;
          if (this.deliveryLimit >= 0 && record.returns > this.deliveryLimit)
            record.ended = "dead-lettered";
        }
        break;
      case "remove":
        this.release((consumer) => consumer === c.consumer);
        this.consumerNode.delete(c.consumer);
        break;
      case "node-down":
        this.release((consumer) => this.consumerNode.get(consumer) === c.node);
        for (const [consumer, node] of [...this.consumerNode])
          if (node === c.node) this.consumerNode.delete(consumer);
        break;
      case "config":
        this.deliveryLimit = c.config.deliveryLimit;
        break;
      default:
        break;
    }
    for (const effect of result.effects) {
      if (effect.type === "deliver") {
        for (const d of effect.deliveries) this.delivered(index, effect.consumer, d);
      } else {
        for (const dead of effect.messages) {
          const record = this.messages.get(dead.id);
          if (record !== undefined && record.ended === undefined) {
            this.fault(
              "dead-lettered unexpectedly",
              `index ${index}: message ${dead.id} (${record.key}) dead-lettered as ${dead.reason}`,
            );
          }
        }
      }
    }
  }

  private enqueue(
    index: number,
    c: QuorumCommand & { type: "enqueue" },
    result: QuorumApplyResult,
  ): void {
    const reply = result.reply;
    if (reply.type !== "enqueue") {
      this.fault("enqueue reply", `index ${index}: ${reply.type}`);
      return;
    }
    if (!reply.accepted || reply.duplicate) return;
    const key = `${c.publisher}#${c.seq}`;
    const ids = this.idsOfKey.get(key);
    if (ids === undefined) this.idsOfKey.set(key, [index]);
    else {
      ids.push(index);
      if (this.publisherAlive(c.publisher)) {
        this.fault(
          "duplicate enqueue",
          `${key} enqueued again at ${index} (first at ${ids[0]}) while its publisher lives`,
        );
      } else this.duplicates++;
    }
    this.messages.set(index, {
      id: index,
      key,
      holder: undefined,
      deliveries: 0,
      returns: 0,
      ended: undefined,
    });
  }

  private delivered(
    index: number,
    consumer: string,
    d: { readonly id: number; readonly redelivered: boolean },
  ): void {
    this.deliveries++;
    if (d.redelivered) this.redeliveries++;
    const record = this.messages.get(d.id);
    const at = `index ${index}: message ${d.id}`;
    if (record === undefined) {
      this.fault("delivered unknown message", `${at} to ${consumer}`);
      return;
    }
    if (!this.consumerNode.has(consumer)) {
      this.fault("delivered to no consumer", `${at} (${record.key}) to ${consumer}`);
    }
    if (record.ended !== undefined) {
      this.fault(
        "delivered after its end",
        `${at} (${record.key}) ${record.ended}, to ${consumer}`,
      );
    } else if (record.holder !== undefined) {
      this.fault(
        "delivered twice",
        `${at} (${record.key}) to ${consumer} while ${record.holder} holds it ` +
          "(no return, removal or node-down in between)",
      );
    }
    if (d.redelivered !== record.deliveries > 0) {
      this.fault(
        "redelivered flag",
        `${at} (${record.key}) delivery ${record.deliveries + 1} flagged redelivered=${d.redelivered}`,
      );
    }
    record.holder = consumer;
    record.deliveries++;
  }

  private heldBy(consumer: string, ids: readonly number[]): MessageRecord[] {
    const out: MessageRecord[] = [];
    for (const id of ids) {
      const record = this.messages.get(id);
      if (record !== undefined && record.holder === consumer && record.ended === undefined)
        out.push(record);
    }
    return out;
  }

  private end(consumer: string, ids: readonly number[], ending: Ending): void {
    for (const record of this.heldBy(consumer, ids)) {
      record.holder = undefined;
      record.ended = ending;
    }
  }

  private release(whose: (consumer: string) => boolean): void {
    for (const record of this.messages.values()) {
      if (record.holder !== undefined && record.ended === undefined && whose(record.holder))
        record.holder = undefined;
    }
  }

  /** Messages not ended yet (the drain is over when none is left). */
  openCount(): number {
    let n = 0;
    for (const record of this.messages.values()) if (record.ended === undefined) n++;
    return n;
  }

  /** Confirmed publishes (by key) that did not end: each is a lost message. */
  lost(confirmed: Iterable<string>): string[] {
    const out: string[] = [];
    for (const key of confirmed) {
      const ids = this.idsOfKey.get(key) ?? [];
      const ended = ids.some((id) => this.messages.get(id)?.ended !== undefined);
      if (!ended) {
        const where = ids.length === 0 ? "never enqueued" : `ids ${ids.join(",")} still open`;
        out.push(`${key} (${where})`);
      }
    }
    return out;
  }
}
