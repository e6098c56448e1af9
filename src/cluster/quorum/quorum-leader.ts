/**
 * What the replica that leads a quorum queue's group does that no other replica does
 * (docs/QUORUM.md, "Leadership"): it carries out the effects of what it applies (deliveries
 * to the consumers' nodes, dead-lettering, at-least-once dead-letters settled once their
 * targets have them), and once elected catches up what its predecessor may have left undone:
 * re-sends checked-out messages, replicates the queue's settings, declares unreachable
 * consumer nodes down, hands a new queue to its intended leader.
 */
import type { Log } from "../../log.js";
import { resolveQuorumSettings } from "../../quorum/quorum-arguments.js";
import type { QuorumCommand } from "../../quorum/quorum-commands.js";
import type { DeadLettered, QuorumApplyResult } from "../../quorum/quorum-machine.js";
import type { QuorumStateMachine } from "../../quorum/quorum-state-machine.js";
import type { Broker } from "../../vhost/broker.js";
import { deadLetter } from "../../vhost/dead-lettering.js";
import type { ForwardingLink } from "../queues/queue-forwarding.js";
import type { RaftDriver } from "../raft-driver.js";
import { encodeMessageDelivery, quorumConfigOf } from "./quorum-config.js";
import type { QuorumQueue } from "./quorum-queue.js";
import { encodeDeliverFrame, type ProposeAnswer, QUORUM_FRAME } from "./quorum-wire.js";

/** What the leader's duties need of the node (QuorumService). */
export interface LeaderHost {
  readonly nodeName: string;
  readonly broker: Broker;
  readonly log: Log;
  readonly link: ForwardingLink | undefined;
  readonly driver: RaftDriver;
  clock(): number;
  submit(queue: QuorumQueue, command: QuorumCommand, timeoutMs: number): Promise<ProposeAnswer>;
  afterTurn(fn: () => void): void;
  reachable(node: string): boolean;
  /** The node's pipe for the queue sends what waits again (the leader changed). */
  resend(queue: QuorumQueue): void;
}

/** How often a leader tries again the at-least-once dead-letters their targets did not take. */
const DLX_RETRY_MS = 10_000;

/** One replica this node holds: its state machine and what the leader side remembers. */
export interface Replica {
  readonly queue: QuorumQueue;
  readonly stateMachine: QuorumStateMachine;
  /** The term this replica leads in, once it saw itself leading (undefined: it follows). */
  leaderTerm: number | undefined;
  /**
   * Set on election: `elected` runs once the replica applied up to here (its first entry of
   * the term), so its state holds all its predecessor committed (settles above all).
   */
  electedFromIndex: number | undefined;
  lastExpiryCheckMs: number;
  lastEarlierRunsCheckMs: number;
  configSent: string | undefined;
  /** Whether this replica already considered handing a new queue's leadership over. */
  placed: boolean;
  /** Whether it leads as the group's first leader (its log held nothing of an earlier term). */
  firstLeader: boolean;
  /** At-least-once dead-letters republished and waiting for their targets' outcome. */
  readonly dlxInFlight: Set<number>;
  /** Dead-letters their targets took, to settle at the end of the turn. */
  readonly dlxSettles: number[];
  lastDlxRetryMs: number;
}

export function applied(host: LeaderHost, replica: Replica, result: QuorumApplyResult): void {
  if (!isLeader(host, replica)) return;
  // After the driver's batch: a delivery may make a channel settle, which proposes again.
  host.afterTurn(() => carryOut(host, replica, result));
}

export function carryOut(host: LeaderHost, replica: Replica, result: QuorumApplyResult): void {
  const { queue } = replica;
  if (queue.deleted) return;
  for (const effect of result.effects) {
    if (effect.type === "deliver") {
      sendDeliveries(host, queue, effect.node, effect.consumer, effect.deliveries);
    } else {
      for (const dead of effect.messages) {
        if (effect.atLeastOnce) deadLetterAtLeastOnce(host, replica, dead);
        else deadLetter(host.broker, queue, encodeMessageDelivery(dead), dead.reason);
      }
    }
  }
}

/**
 * At-least-once dead-lettering (RabbitMQ's dead-letter-strategy): the message stays in the
 * queue's machine until its targets have it (their enqueue outcome accepted: after their
 * own fdatasync or majority); one that could not be routed, or was refused, stays and is
 * tried again (`retryDeadLetters`). A leader that dies first leaves it to the next one.
 */
export function deadLetterAtLeastOnce(
  host: LeaderHost,
  replica: Replica,
  dead: DeadLettered,
): void {
  if (replica.dlxInFlight.has(dead.id)) return;
  const outcome = deadLetter(host.broker, replica.queue, encodeMessageDelivery(dead), dead.reason);
  if (outcome === undefined) return;
  replica.dlxInFlight.add(dead.id);
  outcome.whenSettled((result) => {
    replica.dlxInFlight.delete(dead.id);
    if (!result.accepted || replica.queue.deleted) return;
    replica.dlxSettles.push(dead.id);
    if (replica.dlxSettles.length === 1)
      host.afterTurn(() => {
        const ids = replica.dlxSettles.splice(0);
        const command = { type: "dlx-settle", ids, nowMs: host.clock() } as const;
        host.submit(replica.queue, command, 60_000);
      });
  });
}

/** The leader tries again the at-least-once dead-letters not yet taken by their targets. */
export function retryDeadLetters(host: LeaderHost, replica: Replica, nowMs: number): void {
  const pending = replica.stateMachine.machine.dlxPending;
  if (pending.size === 0 || nowMs - replica.lastDlxRetryMs < DLX_RETRY_MS) return;
  replica.lastDlxRetryMs = nowMs;
  for (const dead of pending.values()) deadLetterAtLeastOnce(host, replica, dead);
}

export function sendDeliveries(
  host: LeaderHost,
  queue: QuorumQueue,
  node: string,
  consumer: string,
  deliveries: Parameters<QuorumQueue["receive"]>[1],
): void {
  if (deliveries.length === 0) return;
  if (node === host.nodeName) {
    queue.receive(consumer, deliveries);
    return;
  }
  const link = host.link;
  link?.sendFrame(
    node,
    QUORUM_FRAME,
    encodeDeliverFrame({ groupId: queue.groupId, consumer, deliveries }),
  );
}

export function elected(host: LeaderHost, replica: Replica): void {
  const { queue } = replica;
  const machine = replica.stateMachine.machine;
  host.log.info(
    { queue: queue.name, vhost: queue.definition.vhost, node: host.nodeName },
    `quorum queue '${queue.name}' in vhost '${queue.definition.vhost}': this node's replica leads now`,
  );
  replica.configSent = undefined;
  syncConfig(host, replica);
  placeLeader(host, replica);
  const link = host.link;
  const down = new Set<string>();
  for (const consumer of machine.consumers.values()) {
    if (consumer.node !== host.nodeName && link !== undefined && !link.isReachable(consumer.node)) {
      down.add(consumer.node);
      continue;
    }
    if (consumer.getter || consumer.checkedOut.size === 0) continue;
    const deliveries = [...consumer.checkedOut.values()].map((m) => ({
      id: m.id,
      attempt: m.acquired,
      payload: m.payload,
      deliveryCount: m.deliveryCount,
      redelivered: m.acquired > 1,
    }));
    sendDeliveries(host, queue, consumer.node, consumer.key, deliveries);
  }
  for (const node of down)
    host.submit(queue, { type: "node-down", node, nowMs: host.clock() }, 60_000);
  // At-least-once dead-letters its predecessor may not have republished.
  if (machine.dlxPending.size > 0) {
    carryOut(host, replica, {
      reply: { type: "done" },
      effects: [
        { type: "dead-letter", atLeastOnce: true, messages: [...machine.dlxPending.values()] },
      ],
    });
  }
  // Pipes on this node may still be waiting on the old leader.
  host.resend(queue);
}

/**
 * A new queue's leader is the member listed first (its leader locator's choice): whoever
 * won the group's first election hands over to it, once. Later leaders (after a failover,
 * or a rebalance) keep the leadership they got.
 */
export function placeLeader(host: LeaderHost, replica: Replica): void {
  const { queue } = replica;
  const intended = queue.members[0];
  if (replica.placed || !replica.firstLeader || intended === undefined) return;
  if (intended === host.nodeName) return;
  replica.placed = true;
  const machine = replica.stateMachine.machine;
  if (machine.totals.enqueued > 0 || machine.consumers.size > 0) return;
  if (!host.reachable(intended)) return;
  host.driver.transferLeadership(queue.groupId, intended);
}

/** The leader keeps the replicated settings equal to what the queue's policies say. */
export function syncConfig(host: LeaderHost, replica: Replica): void {
  const def = replica.queue.definition;
  const policies = host.broker.policies;
  const quorum = resolveQuorumSettings(
    def.arguments,
    policies.match("policy", def.vhost, "queue", def.name, "quorum"),
    policies.match("operator_policy", def.vhost, "queue", def.name, "quorum"),
  );
  const config = quorumConfigOf(replica.queue.settings, quorum);
  const text = JSON.stringify(config);
  if (replica.configSent === text) return;
  const current = JSON.stringify(replica.stateMachine.machine.config);
  replica.configSent = text;
  if (current === text) return;
  host.submit(replica.queue, { type: "config", config, nowMs: host.clock() }, 60_000);
}

export function isLeader(host: LeaderHost, replica: Replica): boolean {
  return host.driver.machine(replica.queue.groupId)?.status().role === "leader";
}
