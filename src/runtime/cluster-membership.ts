/**
 * Growing and shrinking a running cluster (docs/CLUSTER.md, "Growing and shrinking a
 * cluster"), on a node whose cluster runtime runs:
 *
 * - **who to dial**: each tick the transport's peers are made the metadata group's members
 *   with the addresses cluster-members.ts finds, and the list is written to
 *   <data-dir>/cluster-peers.json when it changed;
 * - **join / leave / forget**: a request from a node that is not a member (join_cluster,
 *   on the connection it dialled), from a member being reset (leave), or from
 *   forget_cluster_node on this node, is carried out by the metadata group's leader (a
 *   follower forwards it): the member list entry and one Raft membership change at a time
 *   (dissertation §4.1), each waited on until applied;
 * - **promotion**: the leader gives a learner its vote once it has caught up (§4.2.1).
 */
import {
  byName,
  decodeAnswer,
  decodeRequest,
  encodeJson,
  type MemberAddress,
  type MembershipAnswer,
  type MembershipRequest,
  peersOf,
  samePeers,
} from "../cluster/cluster-members.js";
import type { MetadataGroup } from "../cluster/metadata/index.js";
import { METADATA_GROUP_ID } from "../cluster/metadata/index.js";
import type { ProposalOutcome } from "../cluster/proposal-outcome.js";
import type { RaftDriver } from "../cluster/raft-driver.js";
import type { PeerRequests } from "../cluster/transport/peer-requests.js";
import type { TcpPeerTransport } from "../cluster/transport/tcp-peer-transport.js";
import type { Log } from "../log.js";
import { isMember, type MembershipChange, type NodeId, type RaftStatus } from "../raft/index.js";
import type { Broker } from "../vhost/broker.js";
import { writePeersFile } from "./cluster-peers-file.js";

/** Frame types on the cluster transport (taken: 32 and 33 PeerRequests, 34 queue forwarding). */
export const MEMBERSHIP_REQUEST_FRAME = 60;
export const MEMBERSHIP_REPLY_FRAME = 61;
/** Sent to a node that is not a member but speaks Raft to us (a forgotten node). */
export const NOT_MEMBER_FRAME = 62;
/**
 * The PeerRequests kind a member forwards a membership request to the leader with. Taken:
 * 1 forward, 2 commit index, 3 founding, 10-15 classic-queue forwarding (queue-wire.ts).
 */
const MEMBERSHIP_KIND = 40;
/** How long one membership request may take, leader changes included. */
export const MEMBERSHIP_TIMEOUT_MS = 20_000;
const RETRY_MS = 200;
const PROMOTE_EVERY_MS = 500;

export interface ClusterMembershipOptions {
  readonly nodeName: NodeId;
  readonly log: Log;
  readonly dataDir: string;
  readonly broker: Broker;
  readonly driver: RaftDriver;
  readonly metadata: MetadataGroup;
  readonly transport: TcpPeerTransport;
  readonly requests: PeerRequests;
  /** --cluster-nodes, and the peer file as the node started with it. */
  readonly configured: readonly MemberAddress[];
  readonly remembered: readonly MemberAddress[];
}

export class ClusterMembership {
  private peers = new Map<NodeId, MemberAddress>();
  private readonly configured: Map<NodeId, MemberAddress>;
  private readonly remembered: Map<NodeId, MemberAddress>;
  private promoting = false;
  private lastPromoteMs = 0;
  private readonly warnedNotMember = new Set<NodeId>();

  constructor(private readonly o: ClusterMembershipOptions) {
    this.configured = byName(o.configured);
    this.remembered = byName(o.remembered);
    o.transport.serveStrangers({
      handlers: new Map([
        [
          MEMBERSHIP_REQUEST_FRAME,
          (from, payload, reply) => this.onConnectionRequest(from, payload, reply),
        ],
      ]),
      notMember: (from) => {
        this.o.log.warn(
          { peer: from },
          `refused cluster traffic from ${from}: it is not a member of this cluster (it was ` +
            "removed with forget_cluster_node, or never joined); it was told to reset",
        );
        return { type: NOT_MEMBER_FRAME, payload: Buffer.from(this.o.nodeName) };
      },
    });
    o.transport.onFrame(NOT_MEMBER_FRAME, (from) => this.toldNotMember(from));
    o.requests.serve(MEMBERSHIP_KIND, async (_from, payload) =>
      encodeJson(await this.lead(payload)),
    );
    this.syncPeers();
  }

  /** The members this node dials now, with their addresses. */
  currentPeers(): ReadonlyMap<NodeId, MemberAddress> {
    return this.peers;
  }

  tick(nowMs: number): void {
    this.syncPeers();
    if (nowMs - this.lastPromoteMs >= PROMOTE_EVERY_MS) {
      this.lastPromoteMs = nowMs;
      this.promoteLearners();
    }
  }

  /**
   * forget_cluster_node on this node: refused for itself and for a member this node still
   * reaches (it is running: stop it first, as RabbitMQ refuses a running node).
   */
  async forget(name: NodeId): Promise<MembershipAnswer> {
    if (name === this.o.nodeName)
      return {
        ok: false,
        error: `${name} is this node; run forget_cluster_node on another member`,
      };
    if (!isMember(this.status().membership, name))
      return { ok: false, error: `${name} is not a member of this cluster` };
    if (this.o.transport.isConnected(name))
      return {
        ok: false,
        error: `${name} is running and reachable from ${this.o.nodeName}; stop it first (warrenctl stop), or run stop_app and reset on it to leave the cluster`,
      };
    return this.handle({ op: "forget", name });
  }

  // ---------------------------------------------------------------- requests

  /** A request on a connection (join from a stranger, leave from a member): answered on it. */
  private onConnectionRequest(
    from: NodeId,
    payload: Buffer,
    reply: (type: number, payload: Uint8Array) => void,
  ): void {
    const request = decodeRequest(payload);
    const answer: Promise<MembershipAnswer> =
      typeof request === "string"
        ? Promise.resolve({ ok: false, error: request })
        : request.op === "forget" ||
            (request.op === "join" ? request.member.name : request.name) !== from
          ? Promise.resolve({ ok: false, error: `${from} may only ask to join or leave itself` })
          : this.handle(request);
    void answer.then((a) => reply(MEMBERSHIP_REPLY_FRAME, encodeJson(a)));
  }

  /** Carries a request out on the leader: here, or forwarded to it; retried across elections. */
  private async handle(request: MembershipRequest): Promise<MembershipAnswer> {
    const deadline = Date.now() + MEMBERSHIP_TIMEOUT_MS;
    const bytes = encodeJson(request);
    let last = "no leader of the metadata group is known";
    while (Date.now() < deadline) {
      const s = this.status();
      if (s.role === "leader") return this.lead(bytes);
      if (s.leaderId !== null) {
        try {
          const answer = await this.o.requests.request(
            s.leaderId,
            MEMBERSHIP_KIND,
            bytes,
            Math.max(1, deadline - Date.now()),
          );
          return decodeAnswer(answer);
        } catch (e) {
          last = (e as Error).message;
        }
      }
      await sleep(RETRY_MS);
    }
    return { ok: false, error: `the cluster did not take the change in time: ${last}` };
  }

  /** The leader's part. Idempotent: a join of a member or a removal of a non-member is done. */
  private async lead(bytes: Uint8Array): Promise<MembershipAnswer> {
    const request = decodeRequest(bytes);
    if (typeof request === "string") return { ok: false, error: request };
    if (this.status().role !== "leader")
      return { ok: false, error: `${this.o.nodeName} is not the metadata leader` };
    try {
      if (request.op === "join") return await this.join(request.member);
      return await this.remove(request.name, request.op);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  private async join(member: MemberAddress): Promise<MembershipAnswer> {
    const { log } = this.o;
    log.info({ node: member.name, address: member }, `${member.name} asks to join the cluster`);
    await this.propose({ type: "cluster.member.put", member });
    if (!isMember(this.status().membership, member.name)) {
      await this.changeMembership({ type: "addLearner", nodeId: member.name });
    }
    log.info(
      { node: member.name },
      `${member.name} joined the cluster as a learner; it gets its vote once it has caught up`,
    );
    return { ok: true, members: this.memberList(), detail: `${member.name} joined` };
  }

  private async remove(name: NodeId, op: "leave" | "forget"): Promise<MembershipAnswer> {
    const { log } = this.o;
    if (name === this.o.nodeName)
      throw new Error(`${name} leads the metadata group; it cannot remove itself while it runs`);
    if (isMember(this.status().membership, name)) {
      await this.changeMembership({ type: "removeNode", nodeId: name });
    }
    await this.propose({ type: "cluster.member.delete", name });
    const deleted = op === "forget" ? await this.deleteQueuesOf(name) : 0;
    log.warn(
      { node: name, op, queuesDeleted: deleted },
      op === "forget"
        ? `forgot cluster node ${name}: removed from the metadata group; ${deleted} durable classic queues homed on it deleted`
        : `${name} left the cluster (reset)`,
    );
    return {
      ok: true,
      members: this.memberList(),
      detail: op === "forget" ? `${deleted} classic queues homed on ${name} deleted` : "",
    };
  }

  /** RabbitMQ's forget_cluster_node deletes the classic queues whose home was the node. */
  private async deleteQueuesOf(name: NodeId): Promise<number> {
    let deleted = 0;
    for (const vhost of this.o.broker.metadataReplica().state.vhosts.values()) {
      for (const q of [...vhost.queues.values()]) {
        const arg = q.definition.arguments.get("x-queue-type");
        const type = arg?.type === "S" ? arg.value.toString() : undefined;
        if (q.home !== name || (type !== undefined && type !== "classic")) continue;
        await this.o.broker.submit({
          type: "queue.delete",
          vhost: vhost.name,
          queue: q.definition.name,
        });
        deleted++;
      }
    }
    return deleted;
  }

  // ---------------------------------------------------------------- Raft

  private async propose(command: object): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(command));
    const outcome = await this.o.metadata.group.submit(bytes);
    if (outcome.status !== "applied") throw new Error(describe(outcome));
  }

  /** One change at a time: a pending one (or a leader not ready yet) is waited out. */
  private async changeMembership(change: MembershipChange): Promise<void> {
    const deadline = Date.now() + MEMBERSHIP_TIMEOUT_MS;
    for (;;) {
      // The driver calls back exactly once, a refusal included.
      const outcome = await new Promise<ProposalOutcome>((resolve) => {
        this.o.metadata.group.changeMembership(change, resolve);
      });
      if (outcome.status === "applied") return;
      const retry =
        outcome.status === "refused" &&
        (outcome.reason === "membershipChangePending" || outcome.reason === "leaderNotReady");
      if (!retry || Date.now() > deadline) throw new Error(describe(outcome));
      await sleep(RETRY_MS);
    }
  }

  private promoteLearners(): void {
    const s = this.status();
    if (s.role !== "leader" || this.promoting) return;
    const learner = s.membership.learners[0];
    if (learner === undefined) return;
    this.promoting = true;
    this.o.metadata.group.changeMembership(
      { type: "promoteLearner", nodeId: learner },
      (outcome) => {
        this.promoting = false;
        if (outcome.status === "applied")
          this.o.log.info(
            { node: learner },
            `${learner} has caught up with the metadata and is now a voting member`,
          );
      },
    );
    // A refused change (not caught up yet) is called back at once; the next try comes
    // PROMOTE_EVERY_MS later.
  }

  // ---------------------------------------------------------------- peers

  /**
   * The members as the metadata says, at the addresses known. A node that is not a member
   * of its own group yet (it joined and waits for the leader's log) dials every node it
   * knows of, or it would never hear from the leader.
   */
  private syncPeers(): void {
    const s = this.status();
    // The replicated list is the cluster's word; then the operator's --cluster-nodes (an
    // address changed there wins over the one remembered); then the peer file.
    const sources = [this.o.metadata.machine.members, this.configured, this.remembered];
    const next = isMember(s.membership, this.o.nodeName)
      ? peersOf(s.membership, this.o.nodeName, sources)
      : peersOf(
          { voters: [...new Set(sources.flatMap((m) => [...m.keys()]))], learners: [] },
          this.o.nodeName,
          sources,
        );
    if (samePeers(next, this.peers)) return;
    const added = [...next.keys()].filter((n) => !this.peers.has(n));
    const removed = [...this.peers.keys()].filter((n) => !next.has(n));
    this.peers = next;
    try {
      this.o.transport.setPeers(
        new Map(
          [...next].map(([n, a]) => [
            n,
            { host: a.host === "localhost" ? "127.0.0.1" : a.host, port: a.port },
          ]),
        ),
      );
    } catch (e) {
      // An address the transport cannot use (it says which) must not stop the Raft clock.
      this.o.log.error(
        { err: (e as Error).message },
        `cannot dial a cluster member: ${(e as Error).message}`,
      );
    }
    if (added.length + removed.length > 0) {
      this.o.log.info(
        { added, removed, peers: [...next.keys()] },
        `cluster peers now ${[...next.keys()].join(", ") || "none"}` +
          (added.length ? `; added ${added.join(", ")}` : "") +
          (removed.length ? `; removed ${removed.join(", ")}` : ""),
      );
    }
    try {
      writePeersFile(this.o.dataDir, this.memberList());
    } catch (e) {
      this.o.log.warn(
        { err: (e as Error).message },
        `could not write the cluster's member list to the data dir: ${(e as Error).message}`,
      );
    }
  }

  /** This node and its peers, as the peer file and the answers list them. */
  memberList(): MemberAddress[] {
    const self = this.remembered.get(this.o.nodeName) ?? this.configured.get(this.o.nodeName);
    const selfAddress = this.o.metadata.machine.members.get(this.o.nodeName) ?? self;
    return [...(selfAddress ? [selfAddress] : []), ...this.peers.values()];
  }

  private toldNotMember(from: NodeId): void {
    if (this.warnedNotMember.has(from)) return;
    this.warnedNotMember.add(from);
    this.o.log.error(
      { peer: from },
      `${from} says this node (${this.o.nodeName}) is not a member of its cluster: it was ` +
        "removed with forget_cluster_node. To rejoin: warrenctl stop_app, warrenctl reset, " +
        `warrenctl join_cluster ${from}, warrenctl start_app`,
    );
  }

  private status(): RaftStatus {
    return this.o.driver.machine(METADATA_GROUP_ID)!.status();
  }
}

function describe(outcome: ProposalOutcome): string {
  switch (outcome.status) {
    case "refused":
      return `the metadata group refused the change (${outcome.reason}${outcome.detail ? `: ${outcome.detail}` : ""})`;
    case "lost":
      return "the change was lost in a leader change; try again";
    case "unknown":
      return `the outcome of the change cannot be known here (${outcome.reason})`;
    default:
      return "applied";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
