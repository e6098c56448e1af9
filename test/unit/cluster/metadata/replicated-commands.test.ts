import assert from "node:assert/strict";
import { test } from "node:test";
import type { OutcomeCallback, ProposalReceipt } from "../../../../src/cluster/index.js";
import {
  type CommandForwarder,
  encodeCommand,
  ForwardFailedError,
  type ForwardReply,
  MetadataMachine,
  type MetadataReply,
  MetadataUnavailableError,
  ReplicatedCommands,
  type Timers,
} from "../../../../src/cluster/metadata/index.js";
import { silentLog } from "../../../../src/log.js";
import { systemSources } from "../../../../src/runtime/system-sources.js";
import { Broker } from "../../../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../../../src/vhost/broker-settings.js";
import type {
  MetadataCommand,
  QueueDeclare,
} from "../../../../src/vhost/commands/command-types.js";

/** Timers that fire only when the test advances the clock. */
class ManualTimers implements Timers {
  nowMs = 0;
  private pending: { at: number; fn: () => void; live: boolean }[] = [];

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.nowMs + ms, fn, live: true };
    this.pending.push(timer);
    return () => {
      timer.live = false;
    };
  }

  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    // What is already under way (a forward's answer) registers its timers first.
    await new Promise((resolve) => setImmediate(resolve));
    for (;;) {
      const due = this.pending
        .filter((t) => t.live && t.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.nowMs = due.at;
      due.live = false;
      due.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.nowMs = until;
  }
}

type Propose = (bytes: Uint8Array, onOutcome: OutcomeCallback<MetadataReply>) => ProposalReceipt;

function notLeader(leaderId: string | null): Propose {
  return (_bytes, onOutcome) => {
    onOutcome({ status: "refused", reason: "notLeader", leaderId });
    return { ok: false, reason: "notLeader", leaderId };
  };
}

const declare: QueueDeclare = {
  type: "queue.declare",
  vhost: "/",
  queue: "q",
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
};

/** A node whose state has the default vhost applied at index 1. */
function setup(propose: Propose, forwarder: CommandForwarder) {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  const machine = new MetadataMachine(broker.metadataReplica());
  const apply = (index: number, command: MetadataCommand, term = 1) =>
    machine.apply({ index, term, kind: "command", data: encodeCommand(command) });
  apply(1, { type: "vhost.add", vhost: "/" });
  const timers = new ManualTimers();
  const commands = new ReplicatedCommands({
    nodeId: "b",
    group: { propose: (bytes, onOutcome) => propose(bytes, onOutcome) },
    machine,
    forwarder,
    timers,
    timeoutMs: 1000,
    retryMs: 100,
  });
  return { broker, machine, apply, timers, commands };
}

/** A submit as a promise (a redeclaration answered here comes back at once). */
function submitted<C extends MetadataCommand>(commands: ReplicatedCommands, command: C) {
  try {
    return Promise.resolve(commands.submit(command));
  } catch (e) {
    return Promise.reject(e);
  }
}

const settled = async <T>(p: Promise<T>) => {
  let state: "pending" | "resolved" | "rejected" = "pending";
  p.then(
    () => {
      state = "resolved";
    },
    () => {
      state = "rejected";
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

test("a forwarded command resolves only once this node applied its index, with this node's own result", async () => {
  const forwarder: CommandForwarder = {
    forward: async (leaderId) => {
      assert.equal(leaderId, "a");
      return { ok: true, index: 2, term: 1, result: { ok: true, result: {}, messagesDropped: 0 } };
    },
  };
  const node = setup(notLeader("a"), forwarder);
  const pending = submitted(node.commands, declare);
  assert.equal(await settled(pending), "pending", "the leader applied it, this node not yet");
  node.apply(2, declare);
  const applied = await pending;
  assert.equal(applied.result.created, true);
  assert.equal(applied.result.queue, node.broker.metadata.vhosts.get("/")!.queues.get("q"));
  assert.equal(applied.version, undefined, "nothing more to wait for: the commit is durable");
});

test("an answer already applied here is found among the recent replies", async () => {
  const node = setup(notLeader("a"), {
    forward: async () => {
      // This node applied the entry before the leader's answer came back.
      node.apply(2, declare);
      return { ok: true, index: 2, term: 1, result: { ok: true, result: {}, messagesDropped: 0 } };
    },
  });
  const applied = await submitted(node.commands, declare);
  assert.equal(applied.result.queue, node.broker.metadata.vhosts.get("/")!.queues.get("q"));
});

test("a refused forwarded command rejects with the error this node's own apply gave", async () => {
  const node = setup(notLeader("a"), {
    forward: async () => ({
      ok: true,
      index: 3,
      term: 1,
      result: { ok: false, refusal: { kind: "command", message: "ignored" } },
    }),
  });
  const bind: MetadataCommand = {
    type: "binding.add",
    vhost: "/",
    source: "amq.direct",
    destinationKind: "queue",
    destination: "nope",
    routingKey: "k",
    arguments: {},
  };
  const pending = submitted(node.commands, bind);
  node.apply(3, bind);
  await assert.rejects(pending, /404 NOT_FOUND - no queue 'nope' in vhost '\/'/);
});

test("a forward that never left is retried; one whose answer was lost after it left is unknown", async () => {
  let forwards = 0;
  const node = setup(notLeader("a"), {
    forward: async () => {
      forwards++;
      if (forwards === 1) throw new ForwardFailedError("no link", false);
      throw new ForwardFailedError("the answer was lost", true);
    },
  });
  const rejected = assert.rejects(submitted(node.commands, declare), (e: unknown) => {
    assert.ok(e instanceof MetadataUnavailableError);
    assert.equal(e.reason, "unknown");
    assert.match(e.replyText, /may have been made/);
    return true;
  });
  await node.timers.advance(100);
  await rejected;
  assert.equal(forwards, 2);
});

test("with no leader known it asks again every retry interval, then gives 506 saying the change was not made", async () => {
  let proposals = 0;
  const node = setup(
    (bytes, onOutcome) => {
      proposals++;
      return notLeader(null)(bytes, onOutcome);
    },
    {
      forward: async () => assert.fail("nobody to forward to"),
    },
  );
  const pending = submitted(node.commands, declare);
  await node.timers.advance(999);
  assert.equal(await settled(pending), "pending");
  const rejected = assert.rejects(pending, (e: unknown) => {
    assert.ok(e instanceof MetadataUnavailableError);
    assert.equal(e.reason, "noLeader");
    assert.equal(e.replyCode, 506);
    assert.match(e.replyText, /within 1000 ms \(no leader known\); the change was not made/);
    return true;
  });
  await node.timers.advance(1);
  await rejected;
  assert.equal(proposals, 10);
});

test("a proposal lost with its leader's term is proposed again, and the retry answers", async () => {
  const outcomes: OutcomeCallback<MetadataReply>[] = [];
  const node = setup(
    (_bytes, onOutcome) => {
      outcomes.push(onOutcome);
      return { ok: true, index: 2, term: outcomes.length };
    },
    {
      forward: async () => assert.fail("this node leads"),
    },
  );
  const pending = submitted(node.commands, declare);
  outcomes[0]({ status: "lost", reason: "lostLeadership", index: 2, term: 1 });
  await node.timers.advance(100);
  assert.equal(outcomes.length, 2);
  outcomes[1]({
    status: "applied",
    index: 2,
    term: 2,
    result: { ok: true, result: { created: true }, messagesDropped: 0 },
  });
  assert.deepEqual((await pending).result, { created: true });
});

test("an appended proposal that does not commit within the bound is refused as possibly still taking effect", async () => {
  const node = setup(() => ({ ok: true, index: 2, term: 1 }), {
    forward: async () => assert.fail("this node leads"),
  });
  const rejected = assert.rejects(submitted(node.commands, declare), (e: unknown) => {
    assert.ok(e instanceof MetadataUnavailableError);
    assert.equal(e.reason, "notCommitted");
    assert.match(e.replyText, /it may still take effect/);
    return true;
  });
  await node.timers.advance(1000);
  await rejected;
});

test("the leader serves a forwarded command with its index, term and a JSON-safe reply", async () => {
  const node = setup(
    (bytes, onOutcome) => {
      const result = node.machine.apply({ index: 2, term: 1, kind: "command", data: bytes });
      setImmediate(() => onOutcome({ status: "applied", index: 2, term: 1, result }));
      return { ok: true, index: 2, term: 1 };
    },
    {
      forward: async () => assert.fail("not forwarded twice"),
    },
  );
  const reply: ForwardReply = await node.commands.serveForwarded(encodeCommand(declare));
  assert.deepEqual(JSON.parse(JSON.stringify(reply)), reply);
  assert.deepEqual(reply, {
    ok: true,
    index: 2,
    term: 1,
    result: {
      ok: true,
      result: { created: true, queue: { vhost: "/", name: "q", id: 1 } },
      messagesDropped: 0,
    },
  });
});

test("a node that jumped past the index by a snapshot answers with the leader's reply and its own queue", async () => {
  const leader = setup(notLeader(null), { forward: async () => assert.fail() });
  leader.apply(2, declare);
  const follower = setup(notLeader("a"), {
    forward: async () => ({
      ok: true,
      index: 2,
      term: 1,
      result: {
        ok: true,
        result: { created: true, queue: { vhost: "/", name: "q", id: 1 } },
        messagesDropped: 0,
      },
    }),
  });
  const pending = submitted(follower.commands, declare);
  await new Promise((resolve) => setImmediate(resolve));
  follower.machine.restore({
    meta: { index: 5, term: 2, membership: { voters: [], learners: [] } },
    data: leader.machine.snapshot(),
  });
  const applied = await pending;
  assert.equal(applied.result.created, true);
  assert.equal(applied.result.queue, follower.broker.metadata.vhosts.get("/")!.queues.get("q"));
});

test("a node that refuses a forward and names another leader is passed over for that one", async () => {
  const asked: string[] = [];
  const node = setup(notLeader("a"), {
    forward: async (leaderId) => {
      asked.push(leaderId);
      if (leaderId === "a") return { ok: false, reason: "notLeader", leaderId: "c" };
      return { ok: true, index: 2, term: 2, result: { ok: true, result: {}, messagesDropped: 0 } };
    },
  });
  const pending = submitted(node.commands, declare);
  await node.timers.advance(100);
  node.apply(2, declare, 2);
  await pending;
  assert.deepEqual(asked, ["a", "c"]);
});

test("a redeclaration of what exists here is answered at once from this node's state, without the log; the rest goes to the log", () => {
  let proposals = 0;
  const node = setup(
    (bytes, onOutcome) => {
      proposals++;
      return notLeader(null)(bytes, onOutcome);
    },
    { forward: async () => assert.fail("not forwarded") },
  );
  node.apply(2, declare);
  const applied = node.commands.submit({ ...declare, client: {} });
  assert.ok(!(applied instanceof Promise), "answered in the caller's turn");
  assert.equal(applied.result.created, false);
  assert.equal(applied.result.queue, node.broker.metadata.vhosts.get("/")!.queues.get("q"));
  assert.throws(
    () => node.commands.submit({ ...declare, durable: false, client: {} }),
    /406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '\/'/,
  );
  const exchange = node.commands.submit({
    type: "exchange.declare",
    vhost: "/",
    exchange: "amq.direct",
    exchangeType: "direct",
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: {},
  });
  assert.ok(!(exchange instanceof Promise));
  assert.equal(proposals, 0);
  // A new queue is a change: it goes to the group.
  const pending = submitted(node.commands, { ...declare, queue: "new" });
  assert.equal(proposals, 1);
  const rejected = assert.rejects(pending, MetadataUnavailableError);
  return node.timers.advance(1000).then(() => rejected);
});
