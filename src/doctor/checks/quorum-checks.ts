import type { QuorumQueueStatus } from "../../quorum/quorum-admin.js";
import { type Check, type DoctorInput, type Finding, plural } from "../finding.js";

// Quorum queues' signatures (issue 17 item 5): a queue without a majority of its members
// online (it accepts nothing), a member far behind its leader, leaders piled on one node.
// They read the quorum runtime's view (QuorumAdmin.list(), DoctorInput.quorum) and run on a
// node that runs quorum queues (allChecks(..., quorum)).

const SEED_MAJORITY = "002 (network partitions and majority loss), 004 (quorum queues)";

/** Queues named per finding in the evidence. */
const EVIDENCE_QUEUES = 10;

/**
 * How many entries a member may trail the commit index before it counts as lagging: RabbitMQ's
 * snapshot interval for quorum queues (8192). A member further behind than that is usually
 * sent a snapshot rather than entries, and is not fresh enough to replace a lost member.
 */
export const LAGGING_MEMBER_ENTRIES = 8192;

/** Leaders on one node, as a share of all, above which the cluster counts as unbalanced. */
export const PILED_LEADERS_SHARE = 2 / 3;

function quorumOf(input: DoctorInput): readonly QuorumQueueStatus[] {
  return input.quorum ?? [];
}

function queueName(q: QuorumQueueStatus): string {
  return `'${q.name}' in vhost '${q.vhost}'`;
}

/** The first EVIDENCE_QUEUES lines, and how many more there are. */
function capped(lines: string[]): string[] {
  if (lines.length <= EVIDENCE_QUEUES) return lines;
  return [...lines.slice(0, EVIDENCE_QUEUES), `and ${lines.length - EVIDENCE_QUEUES} more`];
}

/** Groups items by a key, in first-seen order. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

function missingMembers(q: QuorumQueueStatus): string[] {
  const online = new Set(q.online);
  return q.members.filter((m) => !online.has(m));
}

/**
 * A quorum queue whose online members are not a majority: it elects no leader, confirms no
 * publish and delivers nothing until enough members return. One finding per set of missing
 * members (a node down takes all its queues' majorities with it at once), naming the queues.
 */
export const quorumWithoutMajority: Check = {
  id: "quorum-queue-without-majority",
  description: "quorum queues without a majority of their members online (they accept nothing)",
  run(input): Finding[] {
    const lost = quorumOf(input).filter((q) => !q.hasMajority);
    const groups = groupBy(lost, (q) => missingMembers(q).join(","));
    return [...groups.values()].map((queues) => {
      const missing = missingMembers(queues[0]!);
      const nodes = missing.length > 0 ? missing.join(", ") : "(none reported offline)";
      const title =
        queues.length === 1
          ? `quorum queue ${queueName(queues[0]!)} has no majority: ${plural(missing.length, "member")} of ${queues[0]!.members.length} offline (${nodes})`
          : `${queues.length} quorum queues have no majority: their members on ${nodes} are offline`;
      return {
        check: this.id,
        severity: "critical" as const,
        title,
        evidence: capped(
          queues.map(
            (q) =>
              `${queueName(q)}: members ${q.members.join(", ")}; online ${q.online.join(", ") || "none"}; leader ${q.leader ?? "none"}`,
          ),
        ),
        remedy:
          `Start ${nodes} again, or restore the network between them and this node (their cluster ports): ` +
          "the queues elect a leader and resume by themselves once a majority of their members is back, with " +
          "every confirmed message. Until then publishes to them are not confirmed and their consumers get " +
          "nothing; clients should wait or fail over, not republish elsewhere. Do not try delete_member on the " +
          "offline members: a membership change needs a majority too. Before stopping any other node, run " +
          "warrenctl check_if_node_is_quorum_critical.",
        seed: SEED_MAJORITY,
      };
    });
  },
};

/**
 * On the leader: a member online but far behind the commit index (a slow disk, a busy or
 * stalled node, a thin link). The queue keeps working, but it has one failure fewer to spare
 * than it seems: losing another member would leave only the stale one to make the majority.
 */
export const quorumMemberLagging: Check = {
  id: "quorum-member-lagging",
  description: `quorum queue members more than ${LAGGING_MEMBER_ENTRIES} entries behind their leader`,
  run(input): Finding[] {
    const lagging: { node: string; line: string }[] = [];
    for (const q of quorumOf(input)) {
      const local = q.local;
      if (local?.role !== "leader") continue;
      for (const m of q.memberDetails) {
        if (m.role === "leader" || !m.online || m.matchIndex === undefined) continue;
        const behind = local.commitIndex - m.matchIndex;
        if (behind <= LAGGING_MEMBER_ENTRIES) continue;
        lagging.push({
          node: m.node,
          line: `${queueName(q)}: commit index ${local.commitIndex}, ${m.node} holds up to ${m.matchIndex} (${behind} entries behind)`,
        });
      }
    }
    return [...groupBy(lagging, (l) => l.node)].map(([node, lines]) => ({
      check: this.id,
      severity: "warning" as const,
      title: `${node} lags far behind on ${plural(lines.length, "quorum queue")} this node leads`,
      evidence: capped(lines.map((l) => l.line)),
      remedy:
        `Look at ${node}: its disk (fsync latency, a full or failing disk), its CPU and event loop ` +
        `(warrenctl doctor against it shows stalls), and the network from here to it. It catches up by ` +
        "itself (from a snapshot if it is far behind) once the cause is gone. Until it has, these queues " +
        "survive one failure fewer: do not stop another member (warrenctl check_if_node_is_quorum_critical), " +
        `and if ${node} cannot keep up for good, move its replicas: warrenctl add_member on a healthy node, ` +
        `then delete_member ${node}.`,
    }));
  },
};

/**
 * Leaders piled on one node of a cluster of three or more: that node does the work of every
 * queue it leads (each publish, delivery and ack goes through it), the others idle. Happens
 * after a restart: while a node is down its queues elect leaders elsewhere and keep them.
 */
export const quorumLeadersPiled: Check = {
  id: "quorum-leaders-piled",
  description: "quorum queue leaders concentrated on one node of the cluster",
  run(input): Finding[] {
    const queues = quorumOf(input);
    const nodes = new Set(input.cluster?.members.map((m) => m.name) ?? []);
    for (const q of queues) for (const m of q.members) nodes.add(m);
    if (nodes.size < 3) return [];
    const leaders = new Map<string, number>([...nodes].sort().map((n) => [n, 0]));
    let total = 0;
    for (const q of queues) {
      if (q.leader === null) continue;
      leaders.set(q.leader, (leaders.get(q.leader) ?? 0) + 1);
      total++;
    }
    // Fewer leaders than nodes cannot be spread any better.
    if (total < nodes.size) return [];
    const [top, count] = [...leaders].reduce((a, b) => (b[1] > a[1] ? b : a));
    if (count <= total * PILED_LEADERS_SHARE) return [];
    return [
      {
        check: this.id,
        severity: "warning",
        title: `${top} leads ${count} of ${total} quorum queues (${Math.round((100 * count) / total)}%) in a cluster of ${nodes.size} nodes`,
        evidence: [...leaders].map(([node, n]) => `${node}: ${plural(n, "leader")}`),
        remedy:
          "Spread the leaders: warrenctl rebalance quorum (moves leadership, not data; a short pause per queue " +
          "moved). Leaders pile up after a node restarts, since its queues elected leaders elsewhere while it was " +
          "down; rebalance after a rolling restart. Declare new queues with x-queue-leader-locator: balanced " +
          "(or a policy queue-leader-locator) so they start spread.",
        seed: "003 (spreading queue leaders over the cluster)",
      },
    ];
  },
};

/** The quorum queues' checks, in the order an operator would walk them. */
export const QUORUM_CHECKS: readonly Check[] = [
  quorumWithoutMajority,
  quorumMemberLagging,
  quorumLeadersPiled,
];
