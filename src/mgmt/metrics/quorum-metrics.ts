import type { QuorumQueueStatus } from "../../quorum/quorum-admin.js";
import type { Exposition } from "./exposition.js";

/**
 * Warren's quorum queue gauges, for alerts RabbitMQ's families do not make easy: queues that
 * lost their majority (they accept nothing: warren_quorum_queues_without_majority > 0 pages
 * someone), and how many leaders this node holds (leaders piled on one node:
 * `warrenctl rebalance quorum`). Written when the node runs quorum queues.
 */
export function writeQuorumGauges(
  exp: Exposition,
  thisNode: string,
  quorum: readonly QuorumQueueStatus[],
): void {
  let withoutMajority = 0;
  let ledHere = 0;
  let replicasHere = 0;
  for (const q of quorum) {
    if (!q.hasMajority) withoutMajority++;
    if (q.leader === thisNode) ledHere++;
    if (q.local) replicasHere++;
  }
  exp
    .single("warren_quorum_queues", "gauge", "Quorum queues in the cluster", quorum.length)
    .single(
      "warren_quorum_queues_without_majority",
      "gauge",
      "Quorum queues whose online members are not a majority (they accept nothing)",
      withoutMajority,
    )
    .single(
      "warren_quorum_queue_replicas",
      "gauge",
      "Quorum queue replicas (Raft group members) on this node",
      replicasHere,
    )
    .single(
      "warren_quorum_queue_leaders",
      "gauge",
      "Quorum queues whose leader is on this node",
      ledHere,
    );
}
