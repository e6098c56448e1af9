import { isDurableQueue, type QueueMeta } from "../../vhost/commands/metadata-state.js";
import { type ClusterFacts, type MemberFacts, unreachablePeers } from "../cluster-facts.js";
import { type Check, type DoctorInput, type Finding, plural, seconds } from "../finding.js";

// The seeds' cluster signatures (issue 16 item 6): a node in the minority, a network
// partition, a peer unreachable, a node down with durable queues homed on it, clock or
// version skew. They run only in a cluster (allChecks(..., clustered)); a single node keeps
// its one "partitions" placeholder, so its report reads as it always did.

const SEED_PARTITION = "002 (network partitions and majority loss)";

/** A clock difference beyond which timestamps from different nodes stop lining up. */
export const CLOCK_SKEW_WARNING_MS = 2000;
/** Queue names shown per node in the evidence. */
const EVIDENCE_QUEUES = 10;

function at(ms: number): string {
  return new Date(ms).toISOString();
}

/** "warren@c (127.0.0.1:25674), unreachable for 5 min (since ...)" */
function describePeer(m: MemberFacts, nowMs: number): string {
  const since = m.unreachableSinceMs ?? m.lastHeardMs;
  const when =
    since === undefined
      ? "never heard from since this node started"
      : `unreachable for ${seconds(nowMs - since)} (since ${at(since)})`;
  return `${m.name} (${m.clusterAddress}): ${when}`;
}

function clusterOf(input: DoctorInput): ClusterFacts | undefined {
  return input.cluster;
}

/**
 * pause_minority in effect here: this node closed its clients with 320 and refuses new ones
 * until it sees a majority again (seed 002: the 3-instance service that must stop when it
 * loses its majority).
 */
export const minorityPause: Check = {
  id: "minority",
  description: "this node paused because it cannot see a majority of the cluster",
  run(input): Finding[] {
    const c = clusterOf(input);
    if (!c?.paused) return [];
    const peers = unreachablePeers(c);
    return [
      {
        check: this.id,
        severity: "critical",
        title: `this node is in the minority and paused: ${c.paused.reason}`,
        evidence: [
          `paused for ${seconds(input.nowMs - c.paused.sinceMs)} (since ${at(c.paused.sinceMs)}): AMQP clients were closed with 320 CONNECTION_FORCED and new ones are refused`,
          ...peers.map((m) => describePeer(m, input.nowMs)),
          `metadata group: ${c.metadata.role}, term ${c.metadata.term}, leader ${c.metadata.leader ?? "unknown"}, voters ${c.metadata.voters.join(", ")}`,
        ],
        remedy:
          "Nothing to restart here: the node resumes by itself once it sees a majority again, and catches up. " +
          "Restore the network between this node and the others (their cluster ports, listed above: firewall, " +
          "routing, a failed link), or start the nodes that are down. Meanwhile point clients at the nodes that " +
          "serve (run warrenctl cluster_status against them). Do not restart the majority's nodes.",
        seed: SEED_PARTITION,
      },
    ];
  },
};

/** Nodes that are up but cannot see each other, as this node knows them. */
export const partitionsSeen: Check = {
  id: "partitions",
  description: "network partitions between members of the cluster",
  run(input): Finding[] {
    const c = clusterOf(input);
    // A paused node reports its partition as the minority finding.
    if (!c || c.paused || c.partitions.length === 0) return [];
    const byName = new Map(c.members.map((m) => [m.name, m]));
    return [
      {
        check: this.id,
        severity: "critical",
        title: `network partition: ${c.partitions.map((p) => `${p.node} cannot communicate with ${p.cannotSee.join(", ")}`).join("; ")}`,
        evidence: c.partitions.flatMap((p) =>
          p.cannotSee.map((n) => {
            const m = byName.get(n);
            return m ? `${p.node} -> ${describePeer(m, input.nowMs)}` : `${p.node} -> ${n}`;
          }),
        ),
        remedy:
          "Warren pauses the side without a majority by itself (its clients get 320 and reconnect elsewhere), so " +
          "no side accepts changes the other cannot see. Restore connectivity on the cluster port between these " +
          "nodes (firewall, routing, MTU, a failed switch port); run warrenctl cluster_status on each side to see " +
          "which nodes serve. Nothing needs restarting: the minority resumes and catches up when it sees a majority.",
        seed: SEED_PARTITION,
      },
    ];
  },
};

/** Peers this node cannot reach that are not known to be partitioned: most likely down. */
export const unreachablePeersCheck: Check = {
  id: "peers",
  description: "members of the cluster this node cannot reach",
  run(input): Finding[] {
    const c = clusterOf(input);
    if (!c || c.paused) return [];
    const partitioned = new Set(c.partitions.flatMap((p) => p.cannotSee));
    return unreachablePeers(c)
      .filter((m) => !partitioned.has(m.name))
      .map((m) => ({
        check: this.id,
        severity: "warning" as const,
        title: `cluster member ${m.name} is unreachable`,
        evidence: [
          describePeer(m, input.nowMs),
          `${plural(c.members.length - unreachablePeers(c).length, "member")} of ${c.members.length} reachable from ${c.thisNode}: the majority holds, this node serves`,
        ],
        remedy:
          `Check whether ${m.name} runs (systemctl status, its log); start it, and it catches up from the others. ` +
          `If it runs, check the network to its cluster port (${m.clusterAddress}). While it is away the cluster ` +
          "has one failure fewer to spare: do not stop another node (warrenctl check_if_node_is_quorum_critical).",
        seed: SEED_PARTITION,
      }));
  },
};

/** In a cluster, the node a queue lives on (QueueMeta.home, set by the metadata group). */
export function queueHome(q: QueueMeta): string | undefined {
  return q.home;
}

/** Durable queues homed on each node, as "'name' in vhost 'v'". */
function durableQueuesByHome(input: DoctorInput): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const v of input.broker.metadata.vhosts.values()) {
    for (const q of v.queues.values()) {
      const home = queueHome(q);
      if (home === undefined || !isDurableQueue(q)) continue;
      const list = out.get(home) ?? [];
      list.push(`'${q.definition.name}' in vhost '${v.name}'`);
      out.set(home, list);
    }
  }
  return out;
}

/**
 * A classic queue lives on its home node: while that node is away its durable queues answer
 * 404 to declare and consume on every node, and their messages wait on its disk.
 */
export const queuesHomedOnDownNodes: Check = {
  id: "queue-homes",
  description: "durable queues whose home node is unreachable (unavailable until it returns)",
  run(input): Finding[] {
    const c = clusterOf(input);
    if (!c) return [];
    const down = unreachablePeers(c);
    if (down.length === 0) return [];
    const byHome = durableQueuesByHome(input);
    return down.flatMap((m) => {
      const queues = byHome.get(m.name) ?? [];
      if (queues.length === 0) return [];
      return [
        {
          check: this.id,
          severity: "critical" as const,
          title: `${plural(queues.length, "durable queue")} homed on ${m.name} ${queues.length === 1 ? "is" : "are"} unavailable while it is unreachable`,
          evidence: [
            describePeer(m, input.nowMs),
            ...queues.slice(0, EVIDENCE_QUEUES),
            ...(queues.length > EVIDENCE_QUEUES
              ? [`and ${queues.length - EVIDENCE_QUEUES} more`]
              : []),
          ],
          remedy:
            `Bring ${m.name} back: its queues return with their messages. Until then consumers and publishers ` +
            "of these queues get 404 (home node down) on every node. Only if the node is lost for good: " +
            "warrenctl forget_cluster_node, then declare the queues again elsewhere (their messages are lost).",
          seed: SEED_PARTITION,
        },
      ];
    });
  },
};

/** Members on different Warren versions, or with clocks apart. */
export const clusterSkew: Check = {
  id: "skew",
  description: "version or clock differences between members of the cluster",
  run(input): Finding[] {
    const c = clusterOf(input);
    if (!c) return [];
    const findings: Finding[] = [];
    const versions = new Map<string, string[]>();
    for (const m of c.members) {
      if (m.version === undefined) continue;
      versions.set(m.version, [...(versions.get(m.version) ?? []), m.name]);
    }
    if (versions.size > 1) {
      findings.push({
        check: this.id,
        severity: "warning",
        title: `members run ${versions.size} different Warren versions`,
        evidence: [...versions].map(([v, nodes]) => `${v}: ${nodes.join(", ")}`),
        remedy:
          "A rolling upgrade is in progress or was left half done: upgrade the remaining nodes one at a time " +
          "(check_if_node_is_quorum_critical before each stop), so every member runs the same version.",
      });
    }
    const skewed = c.members.filter(
      (m) => m.clockOffsetMs !== undefined && Math.abs(m.clockOffsetMs) > CLOCK_SKEW_WARNING_MS,
    );
    if (skewed.length > 0) {
      findings.push({
        check: this.id,
        severity: "warning",
        title: `the clocks of ${plural(skewed.length, "member")} differ from this node's by more than ${CLOCK_SKEW_WARNING_MS / 1000} s`,
        evidence: skewed.map(
          (m) =>
            `${m.name}: ${m.clockOffsetMs! > 0 ? "ahead" : "behind"} by ${(Math.abs(m.clockOffsetMs!) / 1000).toFixed(1)} s`,
        ),
        remedy:
          "Run NTP (chrony or systemd-timesyncd) on every node. Message TTLs, x-death times and queue expiry " +
          "count from timestamps taken on the node that received the message, and log lines from different " +
          "nodes no longer line up.",
      });
    }
    return findings;
  },
};

/** The cluster's checks, in the order the seed's diagnostic workflow walks them. */
export const CLUSTER_CHECKS: readonly Check[] = [
  minorityPause,
  partitionsSeen,
  unreachablePeersCheck,
  queuesHomedOnDownNodes,
  clusterSkew,
];
