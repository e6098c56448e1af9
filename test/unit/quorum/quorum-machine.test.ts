import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_QUORUM_CONFIG,
  decodeQuorumCommand,
  encodeQuorumCommand,
  type QuorumCommand,
} from "../../../src/quorum/quorum-commands.js";
import { decodeQuorumSnapshot, encodeQuorumSnapshot } from "../../../src/quorum/quorum-snapshot.js";
import { Driver, deadLettered, deliveredTo, deliveries } from "./quorum-machine-driver.js";

// ------------------------------------------------------------------ order of service

test("messages are delivered in publish order to a single consumer", () => {
  const d = new Driver();
  const ids = d.publishMany(5);
  assert.deepEqual(deliveredTo(d.consume("c1"), "c1"), ids);
});

test("returned messages are served before messages that have been waiting", () => {
  const d = new Driver();
  const [a, b] = d.publishMany(2);
  d.consume("c1", 1);
  assert.deepEqual(d.held("c1"), [a]);
  d.publishMany(2);
  const result = d.giveBack("c1", [a!]);
  // The returned one comes back first, ahead of b which was waiting.
  assert.deepEqual(deliveredTo(result, "c1"), [a]);
  d.settle("c1", [a!]);
  assert.deepEqual(d.held("c1"), [b]);
});

test("high priority messages are served two for each normal one while both wait", () => {
  const d = new Driver();
  const normal = d.publishMany(4);
  const high = d.publishMany(6, { high: true });
  const got = deliveredTo(d.consume("c1"), "c1");
  assert.deepEqual(got, [
    high[0],
    high[1],
    normal[0],
    high[2],
    high[3],
    normal[1],
    high[4],
    high[5],
    normal[2],
    normal[3],
  ]);
});

test("with only high priority messages waiting they are served in order", () => {
  const d = new Driver();
  const high = d.publishMany(4, { high: true });
  assert.deepEqual(deliveredTo(d.consume("c1"), "c1"), high);
});

test("returned messages come before high priority ones", () => {
  const d = new Driver();
  const [n] = d.publishMany(1);
  d.consume("c1", 1);
  const high = d.publishMany(2, { high: true });
  assert.deepEqual(deliveredTo(d.giveBack("c1", [n!]), "c1"), [n]);
  assert.deepEqual(deliveredTo(d.settle("c1", [n!]), "c1"), [high[0]]);
});

// ------------------------------------------------------------------ consumers

test("a consumer holds no more than its window until it settles", () => {
  const d = new Driver();
  const ids = d.publishMany(5);
  assert.deepEqual(deliveredTo(d.consume("c1", 2), "c1"), ids.slice(0, 2));
  assert.equal(d.machine.readyCount, 3);
  assert.deepEqual(deliveredTo(d.settle("c1", [ids[0]!]), "c1"), [ids[2]]);
  assert.deepEqual(d.held("c1"), [ids[1], ids[2]]);
});

test("a consumer with window 0 is given nothing", () => {
  const d = new Driver();
  d.publishMany(2);
  assert.deepEqual(deliveredTo(d.consume("c1", 0), "c1"), []);
  assert.equal(d.machine.readyCount, 2);
});

test("consumers of equal priority are served round robin", () => {
  const d = new Driver();
  d.consume("c1");
  d.consume("c2");
  d.consume("c3");
  const ids = d.publishMany(6);
  assert.deepEqual(d.held("c1"), [ids[0], ids[3]]);
  assert.deepEqual(d.held("c2"), [ids[1], ids[4]]);
  assert.deepEqual(d.held("c3"), [ids[2], ids[5]]);
});

test("a batch of ready messages is spread round robin over consumers that join", () => {
  const d = new Driver();
  d.consume("c1", 1);
  d.consume("c2", 1);
  const ids = d.publishMany(4);
  assert.deepEqual(d.held("c1"), [ids[0]]);
  assert.deepEqual(d.held("c2"), [ids[1]]);
  // c1 settles and gets the next; then c2.
  assert.deepEqual(deliveredTo(d.settle("c1", [ids[0]!]), "c1"), [ids[2]]);
  assert.deepEqual(deliveredTo(d.settle("c2", [ids[1]!]), "c2"), [ids[3]]);
});

test("a higher priority consumer is served first and a lower one only when it is full", () => {
  const d = new Driver();
  d.consume("low", 10, 0);
  d.consume("high", 2, 5);
  const ids = d.publishMany(4);
  assert.deepEqual(d.held("high"), ids.slice(0, 2));
  assert.deepEqual(d.held("low"), ids.slice(2));
  // Room again at the high one: the next message goes there.
  d.settle("high", [ids[0]!]);
  const [next] = d.publishMany(1);
  assert.deepEqual(d.held("high"), [ids[1], next]);
});

test("negative consumer priorities rank below the default", () => {
  const d = new Driver();
  d.consume("neg", 10, -3);
  d.consume("zero", 10, 0);
  const ids = d.publishMany(2);
  assert.deepEqual(d.held("zero"), ids);
  assert.deepEqual(d.held("neg"), []);
});

test("single active consumer: only the first registered consumer is given messages", () => {
  const d = new Driver({ singleActiveConsumer: true });
  d.consume("first", 10);
  d.consume("second", 10, 9);
  const ids = d.publishMany(3);
  assert.deepEqual(d.held("first"), ids);
  assert.deepEqual(d.held("second"), []);
  assert.equal(d.machine.activeConsumer()?.key, "first");
});

test("single active consumer: the active one's window still limits it", () => {
  const d = new Driver({ singleActiveConsumer: true });
  d.consume("first", 1);
  d.consume("second", 10);
  const ids = d.publishMany(3);
  assert.deepEqual(d.held("first"), [ids[0]]);
  assert.deepEqual(d.held("second"), []);
  assert.equal(d.machine.readyCount, 2);
});

test("single active consumer: cancelling the active one hands over to the next", () => {
  const d = new Driver({ singleActiveConsumer: true });
  d.consume("first", 1);
  d.consume("second", 10);
  const ids = d.publishMany(3);
  const result = d.apply({ type: "cancel", consumer: "first" });
  assert.deepEqual(deliveredTo(result, "second"), [ids[1], ids[2]]);
  // The cancelled one keeps what it holds until it settles.
  assert.deepEqual(d.held("first"), [ids[0]]);
  d.settle("first", [ids[0]!]);
  assert.equal(d.machine.consumers.has("first"), false);
});

test("single active consumer: removing the active one returns its messages to the next", () => {
  const d = new Driver({ singleActiveConsumer: true });
  d.consume("first", 10);
  d.consume("second", 10);
  const ids = d.publishMany(3);
  const result = d.apply({ type: "remove", consumer: "first" });
  assert.deepEqual(deliveredTo(result, "second"), ids);
  assert.ok(
    deliveries(result)
      .get("second")!
      .every((x) => x.redelivered),
  );
});

test("cancel stops deliveries but keeps held messages until they are settled", () => {
  const d = new Driver();
  d.consume("c1", 2);
  const ids = d.publishMany(3);
  d.apply({ type: "cancel", consumer: "c1" });
  assert.equal(d.machine.consumerCount, 0);
  d.publishMany(1);
  assert.deepEqual(d.held("c1"), ids.slice(0, 2));
  assert.equal(d.machine.readyCount, 2);
  d.settle("c1", [ids[0]!]);
  assert.deepEqual(d.held("c1"), [ids[1]]);
  assert.equal(d.machine.readyCount, 2, "a cancelled consumer is given nothing new");
  d.giveBack("c1", [ids[1]!]);
  assert.equal(d.machine.consumers.has("c1"), false, "forgotten once it holds nothing");
  assert.equal(d.machine.readyCount, 3);
});

test("a consumer checked out again after cancel receives again", () => {
  const d = new Driver();
  d.consume("c1", 1);
  const ids = d.publishMany(2);
  d.apply({ type: "cancel", consumer: "c1" });
  d.consume("c1", 2);
  assert.deepEqual(d.held("c1"), ids);
});

test("remove returns held messages to the head in id order without counting a return", () => {
  const d = new Driver();
  d.consume("c1", 3);
  const ids = d.publishMany(5);
  // Settle the middle one and give back the first so the held set is out of order.
  d.settle("c1", [ids[1]!]);
  d.giveBack("c1", [ids[0]!]);
  assert.deepEqual(d.held("c1"), [ids[0], ids[2], ids[3]]);
  d.apply({ type: "remove", consumer: "c1" });
  assert.deepEqual(d.readyLines().returns, [ids[0], ids[2], ids[3]]);
  const got = deliveries(d.consume("c2", 10)).get("c2")!;
  assert.deepEqual(
    got.map((x) => [x.id, x.deliveryCount, x.redelivered]),
    [
      [ids[0], 1, true],
      [ids[2], 0, true],
      [ids[3], 0, true],
      [ids[4], 0, false],
    ],
  );
});

test("remove puts held messages ahead of messages returned earlier", () => {
  const d = new Driver();
  d.consume("a", 1);
  d.consume("b", 1);
  const [x, y] = d.publishMany(2);
  d.apply({ type: "cancel", consumer: "a" });
  d.giveBack("a", [x!]);
  d.apply({ type: "remove", consumer: "b" });
  assert.deepEqual(d.readyLines().returns, [y, x]);
});

test("node-down returns what all of the node's consumers held to the head in id order", () => {
  const d = new Driver();
  d.consume("a", 10, 0, "n2");
  d.consume("b", 10, 0, "n2");
  d.consume("c", 10, 0, "n1");
  const ids = d.publishMany(6);
  assert.deepEqual(d.held("a"), [ids[0], ids[3]]);
  assert.deepEqual(d.held("b"), [ids[1], ids[4]]);
  d.apply({ type: "cancel", consumer: "c" });
  d.apply({ type: "node-down", node: "n2" });
  assert.deepEqual(d.readyLines().returns, [ids[0], ids[1], ids[3], ids[4]]);
  assert.equal(d.machine.consumers.has("a"), false);
  assert.equal(d.machine.consumers.has("b"), false);
  assert.deepEqual(d.held("c"), [ids[2], ids[5]]);
  for (const id of d.readyLines().returns)
    assert.equal(d.machine.messages.get(id)!.deliveryCount, 0);
});

test("release puts messages back at the head in id order as if never taken", () => {
  const d = new Driver();
  d.consume("c1", 3);
  const ids = d.publishMany(4);
  d.apply({ type: "cancel", consumer: "c1" });
  d.apply({ type: "release", consumer: "c1", ids: [ids[2]!, ids[0]!] });
  assert.deepEqual(d.readyLines().returns, [ids[0], ids[2]]);
  assert.deepEqual(d.held("c1"), [ids[1]]);
  const got = deliveries(d.consume("c2", 2)).get("c2")!;
  // Not redelivered, no return counted, and the same attempt as the first checkout.
  assert.deepEqual(
    got.map((x) => [x.id, x.deliveryCount, x.redelivered, x.attempt]),
    [
      [ids[0], 0, false, 1],
      [ids[2], 0, false, 1],
    ],
  );
});

test("release of a redelivered message keeps it redelivered", () => {
  const d = new Driver();
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  const again = deliveries(d.giveBack("c1", [id!])).get("c1")!;
  assert.deepEqual(
    again.map((x) => [x.redelivered, x.attempt]),
    [[true, 2]],
  );
  d.apply({ type: "remove", consumer: "c1" });
  d.consume("c2", 1);
  d.apply({ type: "cancel", consumer: "c2" });
  d.apply({ type: "release", consumer: "c2", ids: [id!] });
  const last = deliveries(d.consume("c3", 1)).get("c3")!;
  assert.deepEqual(
    last.map((x) => [x.deliveryCount, x.redelivered, x.attempt]),
    [[1, true, 3]],
  );
});

// ------------------------------------------------------------------ returns, discards, dead letters

test("return counts a delivery and the next delivery carries the count", () => {
  const d = new Driver();
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  const result = d.giveBack("c1", [id!]);
  const got = deliveries(result).get("c1")!;
  assert.deepEqual(
    got.map((x) => [x.id, x.deliveryCount, x.redelivered]),
    [[id, 1, true]],
  );
});

test("a message returned more often than the delivery limit is dead-lettered as delivery_limit", () => {
  const d = new Driver({ deliveryLimit: 2, deadLetter: true });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  assert.deepEqual(deadLettered(d.giveBack("c1", [id!])), []);
  assert.deepEqual(deadLettered(d.giveBack("c1", [id!])), []);
  const result = d.giveBack("c1", [id!]);
  assert.deepEqual(deadLettered(result), [[id, "delivery_limit"]]);
  const effect = result.effects.find((e) => e.type === "dead-letter")!;
  assert.equal(effect.type === "dead-letter" && effect.messages[0]!.deliveryCount, 3);
  assert.equal(d.machine.messages.size, 0);
});

test("delivery limit 0 dead-letters on the first return", () => {
  const d = new Driver({ deliveryLimit: 0, deadLetter: true });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  assert.deepEqual(deadLettered(d.giveBack("c1", [id!])), [[id, "delivery_limit"]]);
});

test("delivery limit -1 never dead-letters", () => {
  const d = new Driver({ deliveryLimit: -1, deadLetter: true });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  for (let i = 0; i < 50; i++) assert.deepEqual(deadLettered(d.giveBack("c1", [id!])), []);
  assert.equal(d.machine.messages.get(id!)!.deliveryCount, 50);
});

test("discard dead-letters as rejected without counting a return", () => {
  const d = new Driver({ deadLetter: true });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  const result = d.discard("c1", [id!]);
  assert.deepEqual(deadLettered(result), [[id, "rejected"]]);
  assert.equal(d.machine.messages.size, 0);
  assert.equal(d.machine.totals.deadLettered, 1);
});

test("without a dead-letter target dead-lettered messages are dropped", () => {
  const d = new Driver({ deadLetter: false });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  const result = d.discard("c1", [id!]);
  assert.deepEqual(result.effects, []);
  assert.equal(d.machine.messages.size, 0);
  assert.equal(d.machine.totals.dropped, 1);
});

test("at-least-once dead-lettering keeps messages pending until dlx-settle", () => {
  const d = new Driver({ deadLetter: true, deadLetterStrategy: "at-least-once" });
  d.consume("c1", 2);
  const [a, b] = d.publishMany(2);
  const result = d.discard("c1", [a!, b!]);
  const effect = result.effects.find((e) => e.type === "dead-letter");
  assert.ok(effect !== undefined && effect.type === "dead-letter" && effect.atLeastOnce);
  assert.deepEqual([...d.machine.dlxPending.keys()], [a, b]);
  assert.equal(d.machine.messages.size, 2);
  d.apply({ type: "dlx-settle", ids: [a!, 999] });
  assert.deepEqual([...d.machine.dlxPending.keys()], [b]);
  assert.deepEqual([...d.machine.messages.keys()], [b]);
});

test("settle, return and discard of unknown ids or consumers change nothing", () => {
  const d = new Driver({ deadLetter: true });
  d.consume("c1", 1);
  const [id] = d.publishMany(1);
  for (const result of [
    d.settle("c1", [id! + 100]),
    d.giveBack("nobody", [id!]),
    d.discard("c2", [id!]),
  ])
    assert.deepEqual(result.effects, []);
  assert.deepEqual(d.held("c1"), [id]);
});

// ------------------------------------------------------------------ length limits

test("max-length with drop-head dead-letters the oldest ready messages as maxlen", () => {
  const d = new Driver({ maxLength: 2, deadLetter: true });
  const [a, b] = d.publishMany(2);
  const { id: c, result } = d.publish();
  assert.deepEqual(result.reply, { type: "enqueue", accepted: true, duplicate: false });
  assert.deepEqual(deadLettered(result), [[a, "maxlen"]]);
  assert.deepEqual(d.readyLines().normal, [b, c]);
});

test("max-length counts ready messages only, not those consumers hold", () => {
  const d = new Driver({ maxLength: 1 });
  d.consume("c1", 2);
  const ids = d.publishMany(3);
  assert.deepEqual(d.held("c1"), ids.slice(0, 2));
  assert.equal(d.machine.readyCount, 1);
});

test("max-length-bytes with drop-head drops from the head until the bytes fit", () => {
  const d = new Driver({ maxLengthBytes: 10, deadLetter: true });
  const a = d.publish({ size: 4 }).id;
  const b = d.publish({ size: 4 }).id;
  const { id: c, result } = d.publish({ size: 8 });
  assert.deepEqual(deadLettered(result), [
    [a, "maxlen"],
    [b, "maxlen"],
  ]);
  assert.deepEqual(d.readyLines().normal, [c]);
  assert.equal(d.machine.readyBytes, 8);
});

test("drop-head drops a returned message first, it being at the head", () => {
  const d = new Driver({ maxLength: 2, deadLetter: true });
  d.consume("c1", 1);
  const [a] = d.publishMany(2);
  d.apply({ type: "cancel", consumer: "c1" });
  d.giveBack("c1", [a!]);
  const { result } = d.publish();
  assert.deepEqual(deadLettered(result), [[a, "maxlen"]]);
});

test("reject-publish refuses an enqueue when the queue is full and stores nothing", () => {
  const d = new Driver({ maxLength: 2, overflow: "reject-publish", deadLetter: true });
  d.publishMany(2);
  const { id, result } = d.publish();
  assert.deepEqual(result.reply, { type: "enqueue", accepted: false, duplicate: false });
  assert.deepEqual(result.effects, []);
  assert.equal(d.machine.messages.has(id), false);
  assert.equal(d.machine.readyCount, 2);
});

test("reject-publish by bytes refuses a message that would not fit", () => {
  const d = new Driver({ maxLengthBytes: 10, overflow: "reject-publish" });
  assert.equal(d.publish({ size: 6 }).result.reply.type, "enqueue");
  const refused = d.publish({ size: 5 }).result.reply;
  assert.deepEqual(refused, { type: "enqueue", accepted: false, duplicate: false });
  const fits = d.publish({ size: 4 }).result.reply;
  assert.deepEqual(fits, { type: "enqueue", accepted: true, duplicate: false });
});

test("lowering max-length with drop-head drops the excess at once", () => {
  const d = new Driver({ deadLetter: true });
  const ids = d.publishMany(4);
  const result = d.configure({ deadLetter: true, maxLength: 1 });
  assert.deepEqual(
    deadLettered(result),
    ids.slice(0, 3).map((id) => [id, "maxlen"]),
  );
});

test("lowering max-length with reject-publish keeps what is there and refuses more", () => {
  const d = new Driver({ deadLetter: true, overflow: "reject-publish" });
  d.publishMany(4);
  const result = d.configure({ deadLetter: true, overflow: "reject-publish", maxLength: 1 });
  assert.deepEqual(deadLettered(result), []);
  assert.equal(d.machine.readyCount, 4);
  const { result: refused } = d.publish();
  assert.deepEqual(refused.reply, { type: "enqueue", accepted: false, duplicate: false });
});

// ------------------------------------------------------------------ TTL

test("message TTL runs from the enqueue's clock and an expired head is dropped when met", () => {
  const d = new Driver({ messageTtlMs: 100, deadLetter: true });
  const { id } = d.publish({ nowMs: 1_000 });
  assert.equal(d.machine.messages.get(id)!.expiresAtMs, 1_100);
  // At exactly the expiry it is still deliverable (strictly earlier than now expires).
  d.nowMs = 1_100;
  assert.deepEqual(deliveredTo(d.consume("c1", 1), "c1"), [id]);
});

test("a message past its TTL is dead-lettered as expired instead of delivered", () => {
  const d = new Driver({ messageTtlMs: 100, deadLetter: true });
  const { id } = d.publish({ nowMs: 1_000 });
  const [fresh] = d.publishMany(1, { nowMs: 1_050 });
  d.nowMs = 1_101;
  const result = d.consume("c1", 5);
  assert.deepEqual(deadLettered(result), [[id, "expired"]]);
  assert.deepEqual(deliveredTo(result, "c1"), [fresh]);
});

test("a per-message expiration shorter than the queue's TTL wins", () => {
  const d = new Driver({ messageTtlMs: 1_000 });
  const short = d.publish({ nowMs: 1_000, expiresAtMs: 1_200 }).id;
  const long = d.publish({ nowMs: 1_000, expiresAtMs: 9_000 }).id;
  assert.equal(d.machine.messages.get(short)!.expiresAtMs, 1_200);
  assert.equal(d.machine.messages.get(long)!.expiresAtMs, 2_000);
});

test("a per-message expiration applies without a queue TTL", () => {
  const d = new Driver({ deadLetter: true });
  const { id } = d.publish({ nowMs: 1_000, expiresAtMs: 1_500 });
  d.nowMs = 1_600;
  assert.deepEqual(deadLettered(d.apply({ type: "expire" })), [[id, "expired"]]);
});

test("the expire command drops expired heads of every line and stops at a live one", () => {
  const d = new Driver({ deadLetter: true });
  const a = d.publish({ expiresAtMs: 1_500 }).id;
  const b = d.publish({ expiresAtMs: 5_000 }).id;
  const c = d.publish({ expiresAtMs: 1_500 }).id;
  const h = d.publish({ expiresAtMs: 1_200, high: true }).id;
  assert.equal(d.machine.nextExpiryMs(), 1_200);
  d.nowMs = 2_000;
  const result = d.apply({ type: "expire" });
  assert.deepEqual(
    deadLettered(result).sort((x, y) => x[0] - y[0]),
    [
      [a, "expired"],
      [h, "expired"],
    ],
  );
  // c expired too but waits behind a live head until it is met.
  assert.deepEqual(d.readyLines().normal, [b, c]);
  assert.equal(d.machine.nextExpiryMs(), 5_000);
});

test("TTL 0 expires a message at once when no consumer can take it", () => {
  const d = new Driver({ messageTtlMs: 0, deadLetter: true });
  const { id, result } = d.publish();
  assert.deepEqual(deadLettered(result), [[id, "expired"]]);
  assert.equal(d.machine.readyCount, 0);
  assert.equal(d.machine.messages.size, 0);
});

test("TTL 0 delivers a message a consumer takes in the same apply", () => {
  const d = new Driver({ messageTtlMs: 0, deadLetter: true });
  d.consume("c1", 1);
  const { id, result } = d.publish();
  assert.deepEqual(deliveredTo(result, "c1"), [id]);
  assert.deepEqual(deadLettered(result), []);
  // The consumer is full now: the next one expires.
  const next = d.publish();
  assert.deepEqual(deadLettered(next.result), [[next.id, "expired"]]);
});

test("TTL 0 expires a message queued behind others even while they wait", () => {
  const d = new Driver({ deadLetter: true });
  const waiting = d.publish().id;
  d.configure({ deadLetter: true, messageTtlMs: 0 });
  const { id: doomed, result } = d.publish();
  assert.deepEqual(deadLettered(result), [[doomed, "expired"]]);
  assert.deepEqual(d.readyLines().normal, [waiting]);
});

test("the machine's clock is the largest any command carried", () => {
  const d = new Driver({ deadLetter: true });
  d.apply({ type: "expire", nowMs: 2_000 });
  d.apply({ type: "expire", nowMs: 500 });
  assert.equal(d.machine.nowMs, 2_000);
  // A message from a proposer with an older clock is judged by the machine's clock when met.
  const { id, result } = d.publish({ nowMs: 500, expiresAtMs: 600 });
  assert.deepEqual(deadLettered(result), []);
  assert.deepEqual(deadLettered(d.consume("c1", 1)), [[id, "expired"]]);
});

// ------------------------------------------------------------------ publisher dedup

test("a publisher's sequence number at or below the last seen is a duplicate, not enqueued", () => {
  const d = new Driver();
  const first = d.publish({ publisher: "p1", seq: 1 }).result.reply;
  assert.deepEqual(first, { type: "enqueue", accepted: true, duplicate: false });
  d.publish({ publisher: "p1", seq: 2 });
  for (const seq of [2, 1]) {
    const { id, result } = d.publish({ publisher: "p1", seq });
    assert.deepEqual(result.reply, { type: "enqueue", accepted: true, duplicate: true });
    assert.equal(d.machine.messages.has(id), false);
  }
  assert.equal(d.machine.readyCount, 2);
  // Another publisher has its own numbers.
  assert.equal(d.publish({ publisher: "p2", seq: 1 }).result.reply.type, "enqueue");
  assert.equal(d.machine.readyCount, 3);
});

test("a publisher's number that skips one is out of sequence: nothing is enqueued or remembered", () => {
  const d = new Driver();
  d.publish({ publisher: "p1", seq: 1 });
  const skipped = d.publish({ publisher: "p1", seq: 3 });
  assert.deepEqual(skipped.result.reply, {
    type: "enqueue",
    accepted: false,
    duplicate: false,
    outOfSequence: true,
  });
  assert.equal(d.machine.messages.has(skipped.id), false);
  // The skipped one, then the other, resent in order, are both taken.
  assert.equal(d.publish({ publisher: "p1", seq: 2 }).result.reply.type, "enqueue");
  const resent = d.publish({ publisher: "p1", seq: 3 }).result.reply;
  assert.deepEqual(resent, { type: "enqueue", accepted: true, duplicate: false });
  assert.equal(d.machine.readyCount, 3);
});

test("a resent enqueue that was refused is refused again, not confirmed as a duplicate", () => {
  const d = new Driver({ maxLength: 1, overflow: "reject-publish" });
  d.publish({ publisher: "p1", seq: 1 });
  const refused = d.publish({ publisher: "p1", seq: 2 }).result.reply;
  assert.deepEqual(refused, { type: "enqueue", accepted: false, duplicate: false });
  const resent = d.publish({ publisher: "p1", seq: 2 }).result.reply;
  assert.equal(resent.type === "enqueue" && resent.accepted, false);
});

test("sequence number 0 is never deduplicated", () => {
  const d = new Driver();
  d.publish({ publisher: "p1", seq: 0 });
  d.publish({ publisher: "p1", seq: 0 });
  assert.equal(d.machine.readyCount, 2);
  assert.equal(d.machine.publishers.size, 0);
});

test("node-down forgets that node's publishers so their numbers start again", () => {
  const d = new Driver();
  d.publish({ publisher: "p1", node: "n2", seq: 5 });
  d.publish({ publisher: "p2", node: "n1", seq: 5 });
  d.apply({ type: "node-down", node: "n2" });
  assert.deepEqual([...d.machine.publishers.keys()], ["p2"]);
  const again = d.publish({ publisher: "p1", node: "n2", seq: 1 }).result.reply;
  assert.deepEqual(again, { type: "enqueue", accepted: true, duplicate: false });
  const dup = d.publish({ publisher: "p2", node: "n1", seq: 5 }).result.reply;
  assert.deepEqual(dup, { type: "enqueue", accepted: true, duplicate: true });
});

// ------------------------------------------------------------------ basic.get and purge

test("dequeue without ack hands out the head and forgets it", () => {
  const d = new Driver();
  const [a] = d.publishMany(2);
  const reply = d.apply({ type: "dequeue", consumer: "get@n1", node: "n1", noAck: true }).reply;
  assert.ok(reply.type === "dequeue");
  assert.equal(reply.delivery?.id, a);
  assert.equal(reply.remaining, 1);
  assert.equal(d.machine.messages.has(a!), false);
});

test("dequeue with ack holds the message for the node's getter until settled", () => {
  const d = new Driver();
  const [a] = d.publishMany(1);
  const reply = d.apply({ type: "dequeue", consumer: "get@n1", node: "n1", noAck: false }).reply;
  assert.ok(reply.type === "dequeue" && reply.delivery?.id === a && reply.remaining === 0);
  assert.deepEqual(d.held("get@n1"), [a]);
  // The getter is never dispatched to.
  d.publishMany(1);
  assert.deepEqual(d.held("get@n1"), [a]);
  d.giveBack("get@n1", [a!]);
  const again = d.apply({ type: "dequeue", consumer: "get@n1", node: "n1", noAck: false }).reply;
  assert.ok(again.type === "dequeue");
  assert.deepEqual(
    [again.delivery?.id, again.delivery?.deliveryCount, again.delivery?.redelivered],
    [a, 1, true],
  );
});

test("dequeue on an empty queue answers nothing", () => {
  const d = new Driver();
  const reply = d.apply({ type: "dequeue", consumer: "get@n1", node: "n1", noAck: true }).reply;
  assert.deepEqual(reply, { type: "dequeue", delivery: undefined, remaining: 0 });
});

test("purge drops ready messages and keeps those consumers hold", () => {
  const d = new Driver({ deadLetter: true });
  d.consume("c1", 1);
  const ids = d.publishMany(4);
  const result = d.apply({ type: "purge" });
  assert.deepEqual(result.reply, { type: "purge", purged: 3 });
  assert.deepEqual(result.effects, []);
  assert.equal(d.machine.readyBytes, 0);
  assert.deepEqual([...d.machine.messages.keys()], [ids[0]]);
});

// ------------------------------------------------------------------ snapshot and codec

test("a snapshot restores a machine that carries on the same", () => {
  const d = new Driver({
    deadLetter: true,
    deadLetterStrategy: "at-least-once",
    messageTtlMs: 500,
  });
  d.consume("c1", 2, 3, "n2");
  d.publishMany(3, { publisher: "p1", seq: 1 });
  d.publish({ publisher: "p1", seq: 7, high: true, size: 9 });
  d.discard("c1", [d.held("c1")[0]!]);
  d.apply({ type: "cancel", consumer: "c1" });
  const bytes = encodeQuorumSnapshot(d.machine);
  const restored = decodeQuorumSnapshot(bytes);
  assert.deepEqual(Buffer.from(encodeQuorumSnapshot(restored)), Buffer.from(bytes));
  assert.equal(restored.readyBytes, d.machine.readyBytes);
  assert.equal(restored.checkedOutCount, d.machine.checkedOutCount);
  const other = new Driver();
  other.machine = restored;
  other.index = d.index;
  const a = d.consume("c2", 10);
  const b = other.consume("c2", 10);
  assert.deepEqual(deliveredTo(b, "c2"), deliveredTo(a, "c2"));
  assert.deepEqual(deadLettered(b), deadLettered(a));
});

test("an empty snapshot is a new queue's empty machine", () => {
  const m = decodeQuorumSnapshot(new Uint8Array(0));
  assert.equal(m.readyCount, 0);
  assert.deepEqual(m.config, DEFAULT_QUORUM_CONFIG);
});

test("every command survives the codec", () => {
  const commands: QuorumCommand[] = [
    {
      type: "enqueue",
      publisher: "p",
      node: "n",
      seq: 3,
      nowMs: 5,
      expiresAtMs: 9,
      high: true,
      size: 3,
      payload: new Uint8Array([1, 2, 3]),
    },
    { type: "checkout", consumer: "c", node: "n", tag: "t", window: 7, priority: -2, nowMs: 1 },
    { type: "cancel", consumer: "c", nowMs: 1 },
    { type: "remove", consumer: "c", nowMs: 1 },
    { type: "settle", consumer: "c", ids: [1, 2], nowMs: 1 },
    { type: "return", consumer: "c", ids: [], nowMs: 1 },
    { type: "discard", consumer: "c", ids: [5], nowMs: 1 },
    { type: "release", consumer: "c", ids: [6, 7], nowMs: 1 },
    { type: "node-down", node: "n", nowMs: 1 },
    { type: "dequeue", consumer: "c", node: "n", noAck: true, nowMs: 1 },
    { type: "purge", nowMs: 1 },
    { type: "expire", nowMs: 1 },
    { type: "config", config: { ...DEFAULT_QUORUM_CONFIG, deliveryLimit: -1 }, nowMs: 1 },
    { type: "dlx-settle", ids: [4], nowMs: 1 },
  ];
  for (const c of commands) {
    const back = decodeQuorumCommand(encodeQuorumCommand(c));
    if (back.type === "enqueue" && c.type === "enqueue")
      assert.deepEqual({ ...back, payload: [...back.payload] }, { ...c, payload: [...c.payload] });
    else assert.deepEqual(back, c);
  }
});

test("with a retry delay a returned message waits, doubling with each return, then comes back first", () => {
  const T = 10_000;
  const d = new Driver({ retryDelayMs: 1_000, retryDelayMaxMs: 1_500 });
  const first = d.publish({ nowMs: T });
  d.publish({ nowMs: T });
  d.apply({
    type: "checkout",
    consumer: "c1",
    node: "n1",
    tag: "t",
    window: 1,
    priority: 0,
    nowMs: T,
  });
  d.apply({ type: "return", consumer: "c1", ids: [first.id], nowMs: T + 10 });
  // The other message goes out meanwhile; the returned one waits.
  assert.equal(d.machine.delayed.length, 1);
  assert.equal(d.machine.nextExpiryMs(), T + 1_010);
  const c1 = [...d.machine.consumers.values()][0]!;
  const other = [...c1.checkedOut.keys()][0]!;
  assert.notEqual(other, first.id);
  d.apply({ type: "settle", consumer: "c1", ids: [other], nowMs: T + 1_009 });
  assert.equal(d.machine.delayed.length, 1, "not due yet");
  assert.equal(c1.checkedOut.size, 0);
  const due = d.apply({ type: "expire", nowMs: T + 1_010 });
  const delivered = due.effects.flatMap((e) => (e.type === "deliver" ? e.deliveries : []));
  assert.deepEqual(
    delivered.map((x) => [x.id, x.deliveryCount, x.redelivered]),
    [[first.id, 1, true]],
  );
  // The second return doubles the wait, capped at 1,500 ms.
  d.apply({ type: "return", consumer: "c1", ids: [first.id], nowMs: T + 2_000 });
  assert.equal(d.machine.nextExpiryMs(), T + 3_500);
});
