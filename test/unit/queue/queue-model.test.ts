import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Message, QueueEntry } from "../../../src/message/message.js";
import { encodeProperties, summarizeProperties } from "../../../src/protocol/content-properties.js";
import {
  type DiscardReason,
  MessageQueue,
  type QueueHooks,
} from "../../../src/queue/message-queue.js";
import { type Overflow, resolveQueueSettings } from "../../../src/queue/queue-settings.js";

/** The naive model: a sorted array and the rules written out the slow, obvious way. */
interface ModelEntry {
  id: number;
  expiresAt: number;
  deliveries: number;
}

class Model {
  ready: ModelEntry[] = [];
  unacked = new Map<number, ModelEntry>();
  events: string[] = [];
  maxLength: number | undefined;
  overflow: Overflow = "drop-head";
  ttl: number | undefined;
  deliveryLimit: number | undefined;

  publish(id: number, now: number, ownTtl: number | undefined): boolean {
    let expiresAt = Number.POSITIVE_INFINITY;
    if (this.ttl !== undefined) expiresAt = now + this.ttl;
    if (ownTtl !== undefined) expiresAt = Math.min(expiresAt, now + ownTtl);
    if (
      this.overflow !== "drop-head" &&
      this.maxLength !== undefined &&
      this.ready.length + 1 > this.maxLength
    ) {
      this.events.push(
        this.overflow === "reject-publish-dlx" ? `discard ${id} maxlen` : `settle ${id}`,
      );
      return false;
    }
    this.ready.push({ id, expiresAt, deliveries: 0 });
    this.enforce();
    // TTL 0: what no consumer took at once is gone.
    if (expiresAt <= now && this.ready[0]?.id === id) this.expire(now + 1);
    return true;
  }

  enforce(): void {
    if (this.overflow !== "drop-head" || this.maxLength === undefined) return;
    while (this.ready.length > this.maxLength)
      this.events.push(`discard ${this.ready.shift()!.id} maxlen`);
  }

  fetch(now: number): number | undefined {
    while (this.ready.length > 0) {
      const e = this.ready.shift()!;
      if (e.expiresAt < now) {
        this.events.push(`discard ${e.id} expired`);
        continue;
      }
      e.deliveries++;
      this.unacked.set(e.id, e);
      return e.id;
    }
    return undefined;
  }

  settle(id: number, how: "ack" | "requeue" | "reject"): void {
    const e = this.unacked.get(id)!;
    this.unacked.delete(id);
    if (how === "ack") this.events.push(`settle ${id}`);
    else if (how === "reject") this.events.push(`discard ${id} rejected`);
    else if (this.deliveryLimit !== undefined && e.deliveries > this.deliveryLimit) {
      this.events.push(`discard ${id} delivery_limit`);
    } else {
      this.ready.push(e);
      this.ready.sort((a, b) => a.id - b.id);
    }
  }

  expire(now: number): void {
    while (this.ready.length > 0 && this.ready[0]!.expiresAt < now) {
      this.events.push(`discard ${this.ready.shift()!.id} expired`);
    }
  }

  purge(): number {
    const n = this.ready.length;
    for (const e of this.ready) this.events.push(`settle ${e.id}`);
    this.ready = [];
    return n;
  }
}

function message(id: number, now: number, ttl: number | undefined): Message {
  const properties = encodeProperties(ttl === undefined ? {} : { expiration: String(ttl) });
  return {
    id,
    exchange: "",
    routingKey: "q",
    properties,
    summary: summarizeProperties(properties),
    body: Buffer.alloc(1),
    persistent: false,
    arrivedAtMs: now,
  };
}

/** Mostly undefined: TTLs and limits that are always on would leave little to test. */
function sometimes<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant("publish" as const),
    ttl: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("fetch" as const) }),
  fc.record({
    kind: fc.constant("settle" as const),
    pick: fc.nat(),
    how: fc.constantFrom("ack" as const, "requeue" as const, "reject" as const),
  }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("purge" as const) }),
  fc.record({
    kind: fc.constant("limits" as const),
    maxLength: sometimes(fc.integer({ min: 0, max: 5 })),
    overflow: fc.constantFrom<Overflow>("drop-head", "reject-publish", "reject-publish-dlx"),
    ttl: sometimes(fc.integer({ min: 0, max: 40 })),
    deliveryLimit: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  }),
);

test("the queue state machine agrees with a naive model on random operation sequences", () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 10, maxLength: 100 }), (ops) => {
      let now = 1_000;
      const events: string[] = [];
      const hooks: QueueHooks = {
        settled: (_q, e: QueueEntry) => events.push(`settle ${e.message.id}`),
        discarded: (_q, e: QueueEntry, reason: DiscardReason) =>
          events.push(`discard ${e.message.id} ${reason}`),
        settledCold: () => assert.fail("no pager, no cold entries"),
        delivering: () => {},
        lastConsumerGone: () => {},
        dispatchLater: () => {},
        // Purged entries are let go at once here (the broker does it in slices).
        releaseLater: (q, entries) => {
          entries.release(
            Number.POSITIVE_INFINITY,
            (e) => hooks.settled(q, e),
            (r) => hooks.settledCold(q, r),
          );
        },
        upkeepLater: () => {},
      };
      const queue = new MessageQueue(
        {
          name: "q",
          vhost: "/",
          durable: false,
          exclusive: false,
          autoDelete: false,
          arguments: new Map(),
        },
        hooks,
        now,
      );
      const model = new Model();
      const fetched = new Map<number, QueueEntry>();
      let nextId = 1;
      for (const o of ops) {
        switch (o.kind) {
          case "publish": {
            const id = nextId++;
            const m = message(id, now, o.ttl);
            const accepted = queue.accepts(m);
            if (accepted) queue.enqueue(m, now);
            else queue.refuse(m);
            // reject-publish without a DLX: the broker settles nothing for it (it never entered).
            if (!accepted && model.overflow === "reject-publish") events.push(`settle ${id}`);
            assert.equal(accepted, model.publish(id, now, o.ttl), `publish ${id}`);
            break;
          }
          case "fetch": {
            const got = queue.fetch(false, now);
            if (got) fetched.set(got.message.id, got);
            assert.equal(got?.message.id, model.fetch(now));
            break;
          }
          case "settle": {
            const ids = [...fetched.keys()];
            if (ids.length === 0) break;
            const id = ids[o.pick % ids.length]!;
            const entry = fetched.get(id)!;
            fetched.delete(id);
            if (o.how === "ack") queue.ack(entry, undefined, now);
            else if (o.how === "requeue") queue.requeue(entry, undefined, now);
            else queue.reject(entry, undefined, now);
            model.settle(id, o.how);
            break;
          }
          case "advance":
            now += o.ms;
            queue.tick(now);
            model.expire(now);
            break;
          case "purge":
            assert.equal(queue.purge(), model.purge());
            break;
          case "limits": {
            const args = new Map();
            if (o.maxLength !== undefined)
              args.set("x-max-length", { type: "I", value: o.maxLength });
            if (o.ttl !== undefined) args.set("x-message-ttl", { type: "I", value: o.ttl });
            if (o.deliveryLimit !== undefined)
              args.set("x-delivery-limit", { type: "I", value: o.deliveryLimit });
            args.set("x-overflow", { type: "S", value: Buffer.from(o.overflow) });
            queue.applySettings(resolveQueueSettings(args), now);
            Object.assign(model, {
              maxLength: o.maxLength,
              overflow: o.overflow,
              ttl: o.ttl,
              deliveryLimit: o.deliveryLimit,
            });
            model.enforce();
            break;
          }
        }
        assert.deepEqual(events, model.events);
        assert.equal(queue.messageCount, model.ready.length);
        assert.equal(queue.unacked, model.unacked.size);
        assert.deepEqual(
          queue.ready.toArray().map((e) => e.message.id),
          model.ready.map((e) => e.id),
        );
      }
    }),
    { numRuns: 1000 },
  );
});
