import { AmqpConnection, type Transport } from "../../src/connection/amqp-connection.js";
import type { Log } from "../../src/log.js";
import { AmqpError } from "../../src/protocol/amqp-error.js";
import { systemSources } from "../../src/runtime/system-sources.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";
import type { Prng } from "../sim/prng.js";
import { HeldStore } from "../support/held-store.js";
import { InProcessClient } from "../support/in-process-client.js";
import { ServerOutputCheck } from "./server-output-check.js";
import { splitSession } from "./session-frames.js";

export interface FuzzVerdict {
  /** What the broker did with the input: "connection.close 505", "open", ... */
  readonly outcome: string;
  readonly channelCloses: readonly number[];
  /** Broken rules; empty when the broker behaved. */
  readonly violations: readonly string[];
  /** The methods the broker sent, in order (the first 200). */
  readonly trace: readonly string[];
}

/**
 * Runs fuzz inputs against an in-process broker (no sockets, a simulated clock, a
 * memory store whose fsyncs finish a turn later) with the broker's real connection
 * code, as the runtime drives it: bytes arrive in chunks, each chunk is followed by
 * the clock tick and the flush, and the socket finally closes. After each input it
 * checks the broker's own state and that a healthy bystander connection on the same
 * broker still completes a confirmed publish and a get. The broker is replaced every
 * `inputsPerBroker` inputs, so state that inputs leave behind (durable queues,
 * bindings) meets later inputs but cannot grow without bound.
 */
export class FuzzTarget {
  private broker!: Broker;
  private hasBroker = false;
  private store!: HeldStore;
  private bystander!: InProcessClient;
  private bystanderQueue = "";
  private bystanderSeq = 0;
  private inputsOnBroker = 0;
  private now = 1_700_000_000_000;
  private readonly logged: string[] = [];
  private pendingScheduled: (() => void)[] = [];

  constructor(private readonly inputsPerBroker = 64) {}

  async run(bytes: Buffer, rng: Prng): Promise<FuzzVerdict> {
    if (!this.hasBroker || this.inputsOnBroker >= this.inputsPerBroker) await this.freshBroker();
    this.inputsOnBroker++;
    this.logged.length = 0;
    const violations: string[] = [];
    const check = new ServerOutputCheck();
    const conn = new AmqpConnection(this.broker, this.transport());
    const guard = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        violations.push(`${what} threw ${(e as Error)?.stack ?? e}`);
      }
    };
    const turn = async () => {
      if (rng.chance(0.6)) guard("the store's fsync callbacks", () => this.store.releaseDurable());
      const scheduled = this.pendingScheduled;
      this.pendingScheduled = [];
      for (const fn of scheduled) guard("a scheduled job", fn);
      // Replies that wait on a promise (a definitions save) run in the microtasks.
      await new Promise((resolve) => setImmediate(resolve));
      this.now += rng.chance(0.05) ? rng.int(1000, 70_000) : rng.int(0, 20);
      guard("broker.tick", () => this.broker.tick(this.now));
      guard("connection.tick", () => conn.tick(this.now));
      guard("runPendingDispatch", () => this.broker.runPendingDispatch());
      guard("flush", () => check.push(conn.flush()));
    };
    for (const chunk of chunks(bytes, rng)) {
      guard("receive", () => conn.receive(chunk));
      await turn();
      // A real client mostly waits for the reply before it sends on.
      for (let i = 0; i < 50 && this.busy() && rng.chance(0.9); i++) await turn();
    }
    // Let the commands held behind definitions saves and fsyncs run to the end.
    for (let i = 0; i < 200 && this.busy(); i++) await turn();
    guard("socketClosed", () => conn.socketClosed());
    await turn();
    await turn();
    violations.push(...check.violations, ...this.logged);
    violations.push(...this.brokerStateProblems(conn));
    violations.push(...(await this.bystanderProblems()));
    // A broken broker would report the same problem for every later input.
    if (violations.length > 0) this.hasBroker = false;
    const outcome = check.sentProtocolHeader
      ? "protocol header"
      : (check.connectionClose ?? (conn.user ? "open until the socket closed" : "no handshake"));
    return { outcome, channelCloses: check.channelCloses, violations, trace: check.trace };
  }

  /** What the fuzzed connection left behind once its socket closed. */
  private brokerStateProblems(conn: AmqpConnection): string[] {
    const problems: string[] = [];
    if ([...this.broker.connections].some((c) => c.id === conn.id))
      problems.push("the closed connection is still registered with the broker");
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    if (sum(this.broker.connectionsByVhost) !== 1)
      problems.push(
        `connections per vhost add up to ${sum(this.broker.connectionsByVhost)}, not 1`,
      );
    if (sum(this.broker.channelsByUser) !== 1)
      problems.push(`channels per user add up to ${sum(this.broker.channelsByUser)}, not 1`);
    for (const vhost of this.broker.vhosts.values()) {
      for (const q of vhost.queues.values()) {
        if (q.exclusiveOwner === conn)
          problems.push(`exclusive queue '${q.name}' outlived its owner`);
        if (q.consumerCount > 0)
          problems.push(`queue '${q.name}' kept ${q.consumerCount} consumers of a closed channel`);
        const unacked = q.stats().messagesUnacknowledged;
        if (unacked !== 0) problems.push(`queue '${q.name}' counts ${unacked} unacked messages`);
      }
    }
    return problems;
  }

  private async bystanderProblems(): Promise<string[]> {
    const b = this.bystander;
    b.received.length = 0;
    const body = `bystander ${++this.bystanderSeq}`;
    try {
      b.publish(1, "", this.bystanderQueue, body, { deliveryMode: 2 });
      await this.settle();
      b.method(1, { name: "basic.get", queue: this.bystanderQueue, noAck: true });
      const got = b.pump();
      const problems: string[] = [];
      if (!got.some((r) => r.method.name === "basic.ack"))
        problems.push(`bystander publish not confirmed (got ${got.map((r) => r.method.name)})`);
      if (got.find((r) => r.method.name === "basic.get-ok")?.body?.toString() !== body)
        problems.push(
          `bystander get did not return its message (got ${got.map((r) => r.method.name)})`,
        );
      return problems;
    } catch (e) {
      return [`bystander failed: ${(e as Error).message}`];
    }
  }

  private async freshBroker(): Promise<void> {
    this.hasBroker = true;
    this.inputsOnBroker = 0;
    this.store = new HeldStore();
    this.store.recover(new Set());
    const log: Log = {
      debug() {},
      info() {},
      warn() {},
      error: (fields, msg) => {
        const err = fields.err;
        if (err !== undefined && !(err instanceof AmqpError))
          this.logged.push(`logged "${msg}": ${(err as Error)?.stack ?? err}`);
      },
    };
    this.broker = new Broker(
      DEFAULT_SETTINGS,
      log,
      { ...systemSources, clock: () => this.now },
      {
        store: this.store,
        saveDefinitions: () => {},
        schedule: (fn) => this.pendingScheduled.push(fn),
      },
    );
    this.broker.bootstrapDefaults();
    // A user with narrow rights, so generated sessions reach the permission checks.
    this.broker.addUser("limited", "limited");
    this.broker.users.setPermission("/", "limited", {
      configure: "^q1$",
      write: "^(q1|amq\\.topic)$",
      read: "^(q1|amq\\.direct)$",
    });
    this.broker.users.setTopicPermission("/", "limited", {
      exchange: "amq.topic",
      write: "^a\\.",
      read: "^a\\.",
    });
    this.bystander = new InProcessClient(this.broker);
    this.bystander.handshake();
    this.bystander.openChannel(1);
    this.bystander.method(1, { name: "confirm.select", nowait: false });
    this.bystander.method(1, {
      name: "queue.declare",
      queue: "fuzz.bystander",
      passive: false,
      durable: true,
      exclusive: true,
      autoDelete: false,
      noWait: false,
      arguments: new Map(),
    });
    await this.settle();
    const declared = this.bystander.pump().find((r) => r.method.name === "queue.declare-ok");
    if (!declared)
      throw new Error(
        `the bystander could not declare its queue: ${JSON.stringify(this.bystander.names())}`,
      );
    this.bystanderQueue = "fuzz.bystander";
  }

  private busy(): boolean {
    return (
      this.pendingScheduled.length > 0 || this.store.held.length > 0 || this.broker.chores.size > 0
    );
  }

  /** Finishes outstanding fsyncs and scheduled jobs (for the bystander's steps). */
  private async settle(): Promise<void> {
    this.broker.chores.runAll(this.now);
    this.store.releaseDurable();
    const scheduled = this.pendingScheduled;
    this.pendingScheduled = [];
    for (const fn of scheduled) fn();
    await new Promise((resolve) => setImmediate(resolve));
  }

  private transport(): Transport {
    return {
      remoteAddress: "127.0.0.1",
      remotePort: 40001,
      localAddress: "127.0.0.1",
      localPort: 5672,
      writableLength: 0,
      requestFlush: () => {},
      end: () => {},
      destroy: () => {},
      pauseReading: () => {},
      resumeReading: () => {},
      defer: (fn) => this.pendingScheduled.push(fn),
    };
  }
}

/**
 * Cuts the input as TCP might deliver it: mostly at frame boundaries, a few frames at
 * a time (so commands meet the replies of earlier ones), sometimes at random points.
 */
function* chunks(bytes: Buffer, rng: Prng): Generator<Buffer> {
  const { header, frames, tail } = splitSession(bytes);
  if (rng.chance(0.75)) {
    yield header;
    for (let i = 0; i < frames.length; ) {
      const n = rng.int(1, 3);
      yield Buffer.concat(frames.slice(i, i + n));
      i += n;
    }
    if (tail.length) yield tail;
    return;
  }
  let at = 0;
  while (at < bytes.length) {
    const size = rng.chance(0.5) ? bytes.length - at : rng.int(1, Math.max(1, bytes.length - at));
    yield bytes.subarray(at, at + size);
    at += size;
  }
}
