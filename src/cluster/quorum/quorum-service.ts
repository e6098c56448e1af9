/**
 * Quorum queues on one node (docs/QUORUM.md): the "quorum" queue type, the replicas this node
 * holds (one Raft group each, driven by the node's RaftDriver beside the metadata group), and
 * the routes between a queue's users on this node and its leader wherever it is.
 *
 * The leader's replica carries out what its machine's applies call for: deliveries go to the
 * consumer's node (this one: straight to the queue; another: a QUORUM_FRAME), dead-lettered
 * messages are republished here. On becoming leader it sends every message checked out to a
 * consumer again (the old leader may have died before sending; the consumer's node drops what
 * it already has), brings the replicated settings up to date, and declares down the nodes of
 * consumers it cannot reach. When a link to a node is lost, the queues this node leads return
 * what that node's consumers held (node-down), and this node's pipes resend to whoever leads.
 */
import { randomBytes } from "node:crypto";
import type { Log } from "../../log.js";
import { resolveQueueSettings } from "../../queue/queue-settings.js";
import type { QueueCounts, QueueCreation, QueueType } from "../../queue/queue-type.js";
import type { QuorumChangeResult } from "../../quorum/quorum-admin.js";
import { resolveQuorumSettings } from "../../quorum/quorum-arguments.js";
import { encodeQuorumCommand, type QuorumCommand } from "../../quorum/quorum-commands.js";
import type { QuorumApplyResult, QuorumMachine } from "../../quorum/quorum-machine.js";
import { QuorumMachine as Machine } from "../../quorum/quorum-machine.js";
import { QuorumStateMachine } from "../../quorum/quorum-state-machine.js";
import { initialPersistedState, type Membership, type RaftStatus } from "../../raft/index.js";
import type { RaftLogStore } from "../../store/raft-log-store.js";
import type { Broker } from "../../vhost/broker.js";
import type { ProposalOutcome } from "../proposal-outcome.js";
import type { ForwardingLink } from "../queues/queue-forwarding.js";
import type { RaftDriver } from "../raft-driver.js";
import { CommandPipe } from "./command-pipe.js";
import { quorumConfigOf } from "./quorum-config.js";
import {
  applied,
  elected,
  isLeader,
  type LeaderHost,
  type Replica,
  retryDeadLetters,
  syncConfig,
} from "./quorum-leader.js";
import { changeMember, type MemberChange } from "./quorum-membership.js";
import { type QuorumNode, QuorumQueue } from "./quorum-queue.js";
import {
  decodeAnswer,
  decodeDeliverFrame,
  decodeMemberRequest,
  decodeProposal,
  decodeStatAnswer,
  decodeStatRequest,
  encodeAnswer,
  encodeMemberRequest,
  encodeProposal,
  encodeStatAnswer,
  encodeStatRequest,
  type ProposeAnswer,
  QUORUM_FRAME,
  QuorumRequest,
  type StatAnswer,
} from "./quorum-wire.js";

export interface QuorumServiceOptions {
  readonly broker: Broker;
  readonly log: Log;
  readonly nodeName: string;
  readonly driver: RaftDriver;
  readonly store: RaftLogStore;
  /** The cluster link; undefined on a single node (every group is of one). */
  readonly link: ForwardingLink | undefined;
  /** The cluster's nodes now (the metadata group's voters); undefined on a single node. */
  readonly clusterNodes?: () => readonly string[];
  /** Ticks between a leader's heartbeats (default 4; below the driver's election ticks). */
  readonly heartbeatTicks?: number;
  /** Settings checks for declarations (quorum-arguments.ts), when present. */
  readonly validateArguments?: QueueType["validateArguments"];
}

/**
 * A quorum queue's leader sends heartbeats every 4 ticks (100 ms at the cluster's 25 ms):
 * a busy queue's appends carry the commit index anyway, and an idle one's followers learn it
 * within 100 ms; confirms come from the leader and never wait for them.
 */
const QUORUM_HEARTBEAT_TICKS = 4;
/** How long a forwarded proposal waits for the leader's answer before it is sent again. */
const FORWARD_TIMEOUT_MS = 10_000;
/** How often the leader looks for expired messages to drop, at most. */
const EXPIRY_CHECK_MS = 1_000;
/** After a link is lost, when this node's consumers are checked out again. */
const RECHECKOUT_AFTER_MS = 3_000;
/** How often each replica looks for consumers of this node's earlier runs, at most. */
const EARLIER_RUNS_CHECK_MS = 1_000;
/** How long a basic.get or purge waits for a leader. */
const SUBMIT_ONCE_TIMEOUT_MS = 10_000;
/** A member change waits for a new member to catch up (quorum-membership.ts: 60 s). */
const MEMBER_CHANGE_TIMEOUT_MS = 70_000;
/** How long a declare-ok waits for the leader's counts before giving this node's own. */
const STAT_TIMEOUT_MS = 2_000;

export class QuorumService implements QuorumNode, LeaderHost {
  readonly nodeName: string;
  readonly incarnation = randomBytes(6).toString("base64url");
  readonly queueType: QueueType;
  private readonly queues = new Map<string, QuorumQueue>();
  private readonly replicas = new Map<string, Replica>();
  private readonly pipes = new Map<string, CommandPipe>();
  private readonly leaderHints = new Map<string, string>();
  private readonly afterTurnQueue: (() => void)[] = [];
  private afterTurnScheduled = false;
  private stopped = false;
  /** Consumer keys of this node's earlier runs whose "remove" is on its way. */
  private readonly removing = new Set<string>();

  constructor(private readonly options: QuorumServiceOptions) {
    this.nodeName = options.nodeName;
    this.queueType = {
      name: "quorum",
      replicated: true,
      create: (creation) => this.create(creation),
      ...(options.validateArguments ? { validateArguments: options.validateArguments } : {}),
    };
    const link = options.link;
    if (link !== undefined) {
      link.serve(QuorumRequest.propose, (_from, payload) => this.serveProposal(payload));
      link.serve(QuorumRequest.member, (_from, payload) => {
        const { groupId, change, node, final } = decodeMemberRequest(payload);
        const queue = this.queues.get(groupId);
        const done =
          final || queue === undefined
            ? changeMember(this.options.driver, groupId, change, node)
            : this.changeMember(queue, change, node, true);
        return done.then((error) => Buffer.from(error ?? ""));
      });
      link.serve(QuorumRequest.stat, async (_from, payload) =>
        encodeStatAnswer(this.statHere(decodeStatRequest(payload))),
      );
      link.onFrame(QUORUM_FRAME, (from, payload) => this.onDeliverFrame(from, payload));
      link.onLinkLost((peer) => this.linkLost(peer));
    }
  }

  clock(): number {
    return this.options.broker.clock();
  }

  get broker(): Broker {
    return this.options.broker;
  }

  get log(): Log {
    return this.options.log;
  }

  get link(): ForwardingLink | undefined {
    return this.options.link;
  }

  get driver(): RaftDriver {
    return this.options.driver;
  }

  resend(queue: QuorumQueue): void {
    this.pipes.get(queue.groupId)?.resend();
  }

  get clustered(): boolean {
    return this.options.link !== undefined;
  }

  // ------------------------------------------------------------------ queues and replicas

  private create(creation: QueueCreation): QuorumQueue {
    const members = creation.members?.length ? creation.members : [this.nodeName];
    const queue = new QuorumQueue(creation, members, this);
    this.queues.set(queue.groupId, queue);
    this.pipes.set(
      queue.groupId,
      new CommandPipe({
        send: (to, command) => this.proposeAt(to, queue.groupId, command),
        target: () => this.target(queue),
        notLeader: (_node, leader) => {
          if (leader !== null) this.leaderHints.set(queue.groupId, leader);
          else this.leaderHints.delete(queue.groupId);
        },
        clock: () => this.clock(),
        setTimer: (fn, ms) => {
          const timer = setTimeout(fn, ms);
          return { cancel: () => clearTimeout(timer) };
        },
      }),
    );
    // A declared member, or a member added later (its group is in this node's store).
    if (members.includes(this.nodeName) || this.options.store.load(queue.groupId) !== undefined)
      this.startReplica(queue, { voters: [...members].sort(), learners: [] });
    return queue;
  }

  /**
   * Starts this node's replica of a queue from what its store holds, or as a new group with
   * `founding` membership: the declared members for a new queue, none for a member added
   * later (it learns the group from the leader's messages).
   */
  private startReplica(queue: QuorumQueue, founding: Membership): void {
    const { driver, store } = this.options;
    const groupId = queue.groupId;
    if (driver.group(groupId) !== undefined) driver.removeGroup(groupId);
    let persisted = store.load(groupId);
    if (persisted === undefined) {
      store.createGroup(groupId, founding);
      persisted = initialPersistedState(founding);
    }
    const replica: Replica = {
      queue,
      stateMachine: new QuorumStateMachine(
        new Machine(),
        { applied: (result) => applied(this, replica, result) },
        // Policies may differ between nodes for a moment; the arguments never do.
        quorumConfigOf(
          resolveQueueSettings(queue.definition.arguments),
          resolveQuorumSettings(queue.definition.arguments),
        ),
      ),
      leaderTerm: undefined,
      electedFromIndex: undefined,
      lastExpiryCheckMs: 0,
      lastEarlierRunsCheckMs: 0,
      configSent: undefined,
      placed: false,
      firstLeader: false,
      dlxInFlight: new Set(),
      dlxSettles: [],
      lastDlxRetryMs: 0,
    };
    this.replicas.set(groupId, replica);
    driver.addGroup(groupId, {
      persisted,
      stateMachine: replica.stateMachine,
      // Heartbeats every few ticks, not every tick: a node may lead thousands of queues.
      raftOptions: { heartbeatTicks: this.options.heartbeatTicks ?? QUORUM_HEARTBEAT_TICKS },
    });
  }

  /**
   * The driver got a message for a group it does not drive: a leader that added this node to
   * a queue's group (add_member, grow). The replica starts empty and learns the log.
   */
  adoptGroup(groupId: string, from: string): boolean {
    const queue = this.queues.get(groupId);
    if (queue === undefined || this.replicas.has(groupId) || this.stopped) return false;
    this.options.log.info(
      { queue: queue.name, vhost: queue.definition.vhost, from },
      `quorum queue '${queue.name}' in vhost '${queue.definition.vhost}': ${from} added this node as a member; its replica starts and catches up`,
    );
    this.startReplica(queue, { voters: [], learners: [] });
    return true;
  }

  /** This node's replica was removed from its group (delete_member, shrink): it goes. */
  private dropReplica(replica: Replica, why: string): void {
    const { queue } = replica;
    // What this node saw last stays its view of the members (it hears no more).
    const last = this.options.driver.machine(queue.groupId)?.status().membership;
    if (last !== undefined) queue.members = [...last.voters];
    this.replicas.delete(queue.groupId);
    this.options.driver.removeGroup(queue.groupId);
    this.options.store.dropGroup(queue.groupId);
    this.options.log.info(
      { queue: queue.name, vhost: queue.definition.vhost },
      `quorum queue '${queue.name}' in vhost '${queue.definition.vhost}': this node's replica was removed (${why})`,
    );
  }

  /** The queue was deleted: its replica and its log go, its pipe fails what waits. */
  deleted(queue: QuorumQueue): void {
    const groupId = queue.groupId;
    if (this.queues.get(groupId) !== queue) return;
    // A stopped service's queues are only let go (stop_app, reset): the store is not touched.
    if (this.stopped) {
      this.queues.delete(groupId);
      return;
    }
    this.queues.delete(groupId);
    this.pipes.get(groupId)?.close(`queue '${queue.name}' was deleted`);
    this.pipes.delete(groupId);
    this.leaderHints.delete(groupId);
    if (this.replicas.delete(groupId)) {
      this.options.driver.removeGroup(groupId);
      this.options.store.dropGroup(groupId);
    }
  }

  localMachine(queue: QuorumQueue): QuorumMachine | undefined {
    return this.replicas.get(queue.groupId)?.stateMachine.machine;
  }

  /** How many of the quorum queues this node knows each node leads (or is to lead: a new one's first member). */
  leadersPerNode(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const queue of this.queues.values()) {
      const leader = this.leaderOf(queue) ?? queue.members[0] ?? null;
      if (leader !== null) counts.set(leader, (counts.get(leader) ?? 0) + 1);
    }
    return counts;
  }

  /** The quorum queue of that name, if this node knows one. */
  find(vhost: string, name: string): QuorumQueue | undefined {
    for (const queue of this.queues.values())
      if (queue.definition.vhost === vhost && queue.name === name) return queue;
    return undefined;
  }

  /**
   * The leader's counts (RabbitMQ's stat asks the leader): here when this replica leads; else
   * asked of the leader this node knows, following one redirect. With no leader known, or no
   * answer in time, this node's own (its replica's, which may lag by the last commands).
   */
  async leaderCounts(queue: QuorumQueue): Promise<QueueCounts> {
    const own = { messageCount: queue.messageCount, consumerCount: queue.consumerCount };
    const link = this.options.link;
    let to = this.leaderOf(queue);
    for (let hop = 0; hop < 2 && to !== null; hop++) {
      if (to === this.nodeName) {
        const here = this.statHere(queue.groupId);
        return here.status === "counts" ? here : own;
      }
      if (link === undefined || !link.isReachable(to)) return own;
      const answer = await link
        .request(to, QuorumRequest.stat, encodeStatRequest(queue.groupId), STAT_TIMEOUT_MS)
        .then(decodeStatAnswer)
        .catch(() => undefined);
      if (answer === undefined || queue.deleted) return own;
      if (answer.status === "counts") return answer;
      to = answer.leader;
    }
    return own;
  }

  private statHere(groupId: string): StatAnswer {
    const replica = this.replicas.get(groupId);
    if (replica === undefined || !isLeader(this, replica)) {
      const leader =
        replica === undefined
          ? (this.leaderHints.get(groupId) ?? null)
          : this.leaderOf(replica.queue);
      return { status: "not-leader", leader: leader === this.nodeName ? null : leader };
    }
    const { queue } = replica;
    return {
      status: "counts",
      messageCount: queue.messageCount,
      consumerCount: queue.consumerCount,
    };
  }

  /** The queues this node knows, with their local replica when it holds one. */
  list(): { queue: QuorumQueue; replica: boolean }[] {
    return [...this.queues.values()].map((queue) => ({
      queue,
      replica: this.replicas.has(queue.groupId),
    }));
  }

  /** This node's replica's Raft status, when it holds one. */
  raftStatus(queue: QuorumQueue): RaftStatus | undefined {
    return this.replicas.has(queue.groupId)
      ? this.options.driver.machine(queue.groupId)?.status()
      : undefined;
  }

  /** The leader as this node knows it (its replica's, else the last one it was told). */
  leaderOf(queue: QuorumQueue): string | null {
    const status = this.raftStatus(queue);
    if (status !== undefined) return status.leaderId;
    return this.leaderHints.get(queue.groupId) ?? null;
  }

  /** Whether node is a member of the cluster (the metadata group's voters), or this node. */
  isClusterNode(node: string): boolean {
    return node === this.nodeName || (this.options.clusterNodes?.() ?? []).includes(node);
  }

  reachable(node: string): boolean {
    const link = this.options.link;
    return node === this.nodeName || link?.isReachable(node) === true;
  }

  /**
   * Adds or removes a member of a queue's group: done by its leader, here or asked over the
   * link. Null when done, else why not.
   */
  async changeMember(
    queue: QuorumQueue,
    change: MemberChange,
    node: string,
    asked = false,
  ): Promise<string | null> {
    const leader = this.leaderOf(queue);
    if (leader === this.nodeName)
      return changeMember(this.options.driver, queue.groupId, change, node);
    // Not known here (this node holds no replica): a member knows, and passes it on once.
    const to = leader ?? (asked ? undefined : this.target(queue));
    if (to === undefined) return "the queue has no leader now (no majority of its members is up)";
    const link = this.options.link;
    if (link === undefined) return `its leader ${to} is not reachable`;
    try {
      const answer = await link.request(
        to,
        QuorumRequest.member,
        encodeMemberRequest(queue.groupId, change, node, leader !== null),
        MEMBER_CHANGE_TIMEOUT_MS,
      );
      return answer.length === 0 ? null : answer.toString();
    } catch (e) {
      return `${to} did not answer: ${(e as Error).message}`;
    }
  }

  /** Hands a queue's leadership to another member (rebalance); only its leader can. */
  /** Hands a queue's leadership to another member (rebalance), asked of its leader. */
  async transferLeadership(
    vhost: string,
    name: string,
    target: string,
  ): Promise<QuorumChangeResult> {
    const queue = this.find(vhost, name);
    if (queue === undefined) return { vhost, name, ok: false, result: "no such quorum queue" };
    const error = await this.changeMember(queue, "transfer", target);
    return error === null
      ? { vhost, name, ok: true, result: `leadership handed to ${target}` }
      : { vhost, name, ok: false, result: error };
  }

  // ------------------------------------------------------------------ proposing

  submit(queue: QuorumQueue, command: QuorumCommand, timeoutMs: number): Promise<ProposeAnswer> {
    const pipe = this.pipes.get(queue.groupId);
    if (pipe === undefined)
      return Promise.resolve({ status: "failed", detail: "the queue was deleted" });
    return pipe.submit(encodeQuorumCommand(command), timeoutMs);
  }

  /**
   * Proposes once, for what must not be resent (basic.get, purge): asks whoever leads,
   * waiting a while for an election, and fails when no leader answers in time.
   */
  async submitOnce(queue: QuorumQueue, command: QuorumCommand): Promise<ProposeAnswer> {
    const bytes = encodeQuorumCommand(command);
    const deadline = this.clock() + SUBMIT_ONCE_TIMEOUT_MS;
    let last = "no leader is known";
    while (!this.stopped && !queue.deleted && this.clock() < deadline) {
      const to = this.target(queue);
      if (to !== undefined) {
        const answer = await this.proposeAt(to, queue.groupId, bytes).catch(
          (e: unknown): ProposeAnswer => ({ status: "failed", detail: String(e) }),
        );
        if (answer.status === "applied") return answer;
        if (answer.status === "not-leader") {
          if (answer.leader !== null) {
            this.leaderHints.set(queue.groupId, answer.leader);
            continue;
          }
          this.leaderHints.delete(queue.groupId);
        } else {
          // The command may have been applied: not safe to send again.
          if (!answer.detail.startsWith("refused")) return answer;
          last = answer.detail;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { status: "failed", detail: last };
  }

  /** Where a queue's commands go now: the leader this node knows, else a member to ask. */
  private target(queue: QuorumQueue): string | undefined {
    const status = this.options.driver.machine(queue.groupId)?.status();
    if (status?.leaderId) return status.leaderId;
    const hint = this.leaderHints.get(queue.groupId);
    if (hint !== undefined) return hint;
    const link = this.options.link;
    // Ask a reachable member other than this one (whose replica knows no leader).
    const others = queue.members.filter(
      (m) => m !== this.nodeName && (link === undefined || link.isReachable(m)),
    );
    if (others.length === 0) return undefined;
    return others[Math.floor(Math.random() * others.length)];
  }

  private proposeAt(to: string, groupId: string, command: Uint8Array): Promise<ProposeAnswer> {
    if (to === this.nodeName) return this.proposeHere(groupId, command);
    const link = this.options.link;
    if (link === undefined) return Promise.resolve({ status: "not-leader", leader: null });
    return link
      .request(to, QuorumRequest.propose, encodeProposal(groupId, command), FORWARD_TIMEOUT_MS)
      .then(decodeAnswer);
  }

  /** Proposes to this node's replica; answers once applied here, or why not. */
  private proposeHere(groupId: string, command: Uint8Array): Promise<ProposeAnswer> {
    return new Promise((resolve) => {
      this.options.driver.propose(groupId, command, (outcome) =>
        resolve(answerOf(outcome as ProposalOutcome<QuorumApplyResult>)),
      );
    });
  }

  private serveProposal(payload: Buffer): Promise<Uint8Array> {
    const { groupId, command } = decodeProposal(payload);
    if (!this.replicas.has(groupId)) {
      const hint = this.leaderHints.get(groupId) ?? null;
      return Promise.resolve(encodeAnswer({ status: "not-leader", leader: hint }));
    }
    return this.proposeHere(groupId, command).then(encodeAnswer);
  }

  private onDeliverFrame(from: string, payload: Buffer): void {
    let frame: ReturnType<typeof decodeDeliverFrame>;
    try {
      frame = decodeDeliverFrame(payload);
    } catch (e) {
      // A frame this node cannot read is dropped, not fatal: the leader resends on election.
      this.options.log.warn(
        { peer: from, err: (e as Error).message },
        `dropped a quorum queue delivery frame from ${from} that could not be read: ${(e as Error).message}`,
      );
      return;
    }
    this.queues.get(frame.groupId)?.receive(frame.consumer, frame.deliveries);
  }

  /**
   * The node's tick: each replica that became leader catches up what its predecessor may
   * have left undone; leaders drop expired heads; pipes fail what waited too long.
   */
  tick(nowMs: number): void {
    if (this.stopped) return;
    for (const replica of [...this.replicas.values()]) {
      const status = this.options.driver.machine(replica.queue.groupId)?.status();
      const { voters, learners } = status?.membership ?? { voters: [], learners: [] };
      if (
        status !== undefined &&
        voters.length + learners.length > 0 &&
        !voters.includes(this.nodeName) &&
        !learners.includes(this.nodeName)
      ) {
        this.dropReplica(replica, "no longer in the group's membership");
        continue;
      }
      const leader = status?.role === "leader";
      if (!leader) {
        replica.leaderTerm = undefined;
        replica.electedFromIndex = undefined;
      } else if (replica.leaderTerm !== status.term) {
        // A new leader knows what its predecessor committed only once an entry of its own
        // term is applied: until then its state may miss settles the consumers' nodes saw
        // applied, and resending "checked-out" messages would deliver them twice.
        replica.leaderTerm = status.term;
        replica.electedFromIndex = status.lastIndex;
        // The group's first leader finds no entry but its own term's first: only it places
        // the leadership where the queue's locator said (a later one, rebalanced there, stays).
        replica.firstLeader = status.lastIndex <= 1;
      }
      if (
        leader &&
        replica.electedFromIndex !== undefined &&
        status.appliedIndex >= replica.electedFromIndex
      ) {
        replica.electedFromIndex = undefined;
        elected(this, replica);
      }
      if (nowMs - replica.lastEarlierRunsCheckMs >= EARLIER_RUNS_CHECK_MS) {
        replica.lastEarlierRunsCheckMs = nowMs;
        this.removeEarlierRuns(replica, nowMs);
      }
      if (!leader) continue;
      retryDeadLetters(this, replica, nowMs);
      const machine = replica.stateMachine.machine;
      if (nowMs - replica.lastExpiryCheckMs >= EXPIRY_CHECK_MS && machine.nextExpiryMs() < nowMs) {
        replica.lastExpiryCheckMs = nowMs;
        this.submit(replica.queue, { type: "expire", nowMs }, 10_000);
      }
    }
    for (const pipe of this.pipes.values()) pipe.expire(nowMs);
  }

  /**
   * Consumers an earlier run of this node checked out (it was killed) hold their messages
   * until something removes them. The leader's node-down covers a node it saw go; not one
   * that came back before a new leader looked (its link is up again, so the new leader finds
   * it reachable), nor one whose old consumer's checkout committed after the node-down. Only
   * this node tells its runs apart (the keys carry its incarnation): it removes them itself,
   * through whoever leads, and again if a late checkout brings one back.
   */
  private removeEarlierRuns(replica: Replica, nowMs: number): void {
    const ours = `${this.nodeName}/`;
    const current = `${this.nodeName}/${this.incarnation}/`;
    const { queue } = replica;
    for (const [key, consumer] of replica.stateMachine.machine.consumers) {
      if (!key.startsWith(ours) || key.startsWith(current) || this.removing.has(key)) continue;
      this.removing.add(key);
      this.options.log.info(
        { queue: queue.name, vhost: queue.definition.vhost, consumer: key },
        `quorum queue '${queue.name}' in vhost '${queue.definition.vhost}': removing consumer ${key} of an earlier run of this node (${consumer.checkedOut.size} messages it held go back)`,
      );
      this.submit(queue, { type: "remove", consumer: key, nowMs }, 60_000).then(() =>
        this.removing.delete(key),
      );
    }
  }

  /** A policy changed the queue's settings: its leader replicates the new ones. */
  settingsChanged(queue: QuorumQueue): void {
    const replica = this.replicas.get(queue.groupId);
    if (replica !== undefined && isLeader(this, replica)) syncConfig(this, replica);
  }

  private linkLost(peer: string): void {
    if (this.stopped) return;
    const nowMs = this.clock();
    for (const replica of this.replicas.values()) {
      if (!isLeader(this, replica)) continue;
      const machine = replica.stateMachine.machine;
      let has = false;
      for (const c of machine.consumers.values()) if (c.node === peer) has = true;
      if (has) this.submit(replica.queue, { type: "node-down", node: peer, nowMs }, 60_000);
    }
    for (const [groupId, pipe] of this.pipes) {
      if (this.leaderHints.get(groupId) === peer) this.leaderHints.delete(groupId);
      pipe.resend();
    }
    // The leader may have declared this node down meanwhile: serve this node's consumers again.
    setTimeout(() => {
      if (this.stopped) return;
      for (const queue of this.queues.values()) queue.recheckout(this.clock());
    }, RECHECKOUT_AFTER_MS).unref();
  }

  // ------------------------------------------------------------------ turns

  afterTurn(fn: () => void): void {
    this.afterTurnQueue.push(fn);
    if (this.afterTurnScheduled) return;
    this.afterTurnScheduled = true;
    queueMicrotask(() => {
      this.afterTurnScheduled = false;
      const run = this.afterTurnQueue.splice(0);
      for (const f of run) f();
    });
  }

  stop(): void {
    this.stopped = true;
    this.options.broker.queueTypes.unregister(this.queueType);
    for (const pipe of this.pipes.values()) pipe.close("the node is stopping");
  }
}

function answerOf(outcome: ProposalOutcome<QuorumApplyResult>): ProposeAnswer {
  switch (outcome.status) {
    case "applied": {
      const reply = outcome.result.reply;
      // Earlier publishes of the same publisher are still on their way: resend in order.
      if (reply.type === "enqueue" && reply.outOfSequence === true)
        return { status: "failed", detail: "out of sequence: earlier publishes are resent first" };
      return { status: "applied", reply };
    }
    case "refused":
      return outcome.reason === "notLeader"
        ? { status: "not-leader", leader: outcome.leaderId }
        : { status: "failed", detail: `refused: ${outcome.detail ?? outcome.reason}` };
    case "lost":
      return { status: "failed", detail: "the leader lost its leadership before committing it" };
    case "unknown":
      return { status: "failed", detail: `outcome unknown (${outcome.reason})` };
  }
}
