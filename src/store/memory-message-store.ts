import { ColdIndex } from "../message/cold-index.js";
import type { Message } from "../message/message.js";
import {
  type DurableCallback,
  type MessageStore,
  noDamage,
  type RecoveredQueue,
  type RecoveryAccounting,
  type StoreRecovery,
  unaccountedFor,
} from "./message-store.js";
import type { LogPosition } from "./segment-log.js";

interface Held {
  readonly message: Message;
  readonly persistent: boolean;
  /** Queues that have not settled it yet (settle removes; release removes without a trace). */
  readonly claims: Set<number>;
  readonly counts: Map<number, number>;
  readonly bodyBytes: number;
}

/**
 * State that outlives a MemoryMessageStore instance, standing in for a disk: a new
 * store over the same MemoryDisk sees what the last one wrote, as after a restart.
 */
export class MemoryDisk {
  /** By message id; positions handed out are segment 1, offset = message id. */
  readonly messages = new Map<number, Held>();
}

/**
 * The in-memory message store: no files, everything durable at once. It passes the
 * same contract suite as the file store, and backs a node run without persistence.
 */
export class MemoryMessageStore implements MessageStore {
  constructor(private readonly disk = new MemoryDisk()) {}

  recover(durableQueueIds: ReadonlySet<number>, accounting?: RecoveryAccounting): StoreRecovery {
    const started = performance.now();
    const queues = new Map<number, RecoveredQueue>();
    for (const id of durableQueueIds) queues.set(id, { queueId: id, entries: new ColdIndex() });
    let maxMessageId = 0;
    let maxQueueId = 0;
    let messages = 0;
    const unclaimedIds = new Set<number>();
    let unclaimedMessages = 0;
    const ids = [...this.disk.messages.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const held = this.disk.messages.get(id)!;
      maxMessageId = Math.max(maxMessageId, id);
      if (!held.persistent) {
        this.disk.messages.delete(id);
        continue;
      }
      for (const q of held.claims) {
        maxQueueId = Math.max(maxQueueId, q);
        const rq = queues.get(q);
        if (!rq) {
          if (unaccountedFor(q, durableQueueIds, accounting)) {
            unclaimedIds.add(q);
            unclaimedMessages++;
          }
          continue;
        }
        rq.entries.push({
          msgId: id,
          segment: 1,
          offset: id,
          length: 0,
          bodyBytes: held.bodyBytes,
          deliveryCount: held.counts.get(q) ?? 0,
          expiresAtMs:
            held.message.summary.expiration === undefined
              ? Number.POSITIVE_INFINITY
              : held.message.arrivedAtMs + Number(held.message.summary.expiration),
          persistent: true,
          arrivedAtMs: held.message.arrivedAtMs,
          priority: held.message.summary.priority,
        });
        messages++;
      }
      // Claims of queues that did not survive end here; unclaimed ones are kept unless discarded.
      for (const q of [...held.claims]) {
        const keep = unclaimedIds.has(q) && !accounting?.discardUnclaimed;
        if (!queues.has(q) && !keep) held.claims.delete(q);
      }
      if (held.claims.size === 0) this.disk.messages.delete(id);
    }
    const kept = unclaimedIds.size > 0;
    return {
      queues,
      maxMessageId,
      maxQueueId,
      unclaimed: {
        queueIds: [...unclaimedIds].sort((a, b) => a - b),
        messages: unclaimedMessages,
        segments: kept ? [1] : [],
      },
      report: {
        segments: 0,
        records: ids.length,
        truncatedBytes: 0,
        corruptSegments: [],
        damaged: [],
        skippedBytes: 0,
        lostByQueue: new Map(),
        unattributed: 0,
        messages,
        durationMs: Math.round(performance.now() - started),
      },
    };
  }

  write(message: Message, queueIds: readonly number[], persistent: boolean): LogPosition {
    this.disk.messages.set(message.id, {
      message: {
        ...message,
        properties: Buffer.from(message.properties),
        body: Buffer.from(message.body),
      },
      persistent,
      claims: new Set(queueIds),
      counts: new Map(),
      bodyBytes: message.body.length,
    });
    return { segment: 1, offset: message.id, length: 0 };
  }

  claim(queueId: number, ref: LogPosition): void {
    this.disk.messages.get(ref.offset)?.claims.add(queueId);
  }

  settle(queueId: number, msgId: number, _ref: LogPosition): void {
    const held = this.disk.messages.get(msgId);
    if (!held) return;
    held.claims.delete(queueId);
    if (held.claims.size === 0) this.disk.messages.delete(msgId);
  }

  delivered(queueId: number, msgId: number, _ref: LogPosition, count: number): void {
    this.disk.messages.get(msgId)?.counts.set(queueId, count);
  }

  release(queueId: number, ref: LogPosition): void {
    const held = this.disk.messages.get(ref.offset);
    if (!held) return;
    held.claims.delete(queueId);
    if (held.claims.size === 0) this.disk.messages.delete(ref.offset);
  }

  read(ref: LogPosition): Message {
    const held = this.disk.messages.get(ref.offset);
    if (!held) throw new Error(`no message ${ref.offset}`);
    return held.message;
  }

  readMany(refs: readonly LogPosition[]): Message[] {
    return refs.map((r) => this.read(r));
  }

  readonly damage = noDamage();

  lost(queueId: number, msgId: number, ref: LogPosition, durable: boolean): void {
    this.damage.lostMessages++;
    if (durable) this.settle(queueId, msgId, ref);
    else this.release(queueId, ref);
  }

  whenDurable(cb: DurableCallback): void {
    queueMicrotask(() => cb(undefined));
  }

  flush(): void {}

  readonly alarm = undefined;

  get diskBytes(): number {
    return 0;
  }

  close(): void {}

  /** Messages still held (for the contract suite's reclamation checks). */
  get heldCount(): number {
    return this.disk.messages.size;
  }
}
