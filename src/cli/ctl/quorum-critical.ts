import { CtlError, EXIT } from "./args.js";
import type { ClusterInfo } from "./cluster-status.js";
import { formatterOf, info } from "./output.js";
import { expectParams, type Verb } from "./verb.js";

interface CriticalAnswer {
  status: string;
  queues?: { readable_name: string; name: string; virtual_host: string; type: string }[];
}

/**
 * check_if_node_is_quorum_critical, as rabbitmq-diagnostics answers it: exit 69 when stopping
 * the node would leave a Raft group without its majority (Warren's one group is the metadata
 * store's, which RabbitMQ 4 lists as `rabbitmq_metadata`), with the same texts; a single node
 * is "the only one in a single node cluster". Meant as a pre-shutdown check in rolling
 * restarts: wait until it passes before stopping the next node.
 */
export const checkIfNodeIsQuorumCritical: Verb = {
  name: "check_if_node_is_quorum_critical",
  usage: "check_if_node_is_quorum_critical",
  description:
    "Health check that exits with a non-zero code if stopping the node would lose the majority of the metadata store (or a quorum queue)",
  async run(ctx) {
    expectParams(ctx, this, 0);
    const json = formatterOf(ctx.args, ["table", "pretty", "json"], "table") === "json";
    const cluster = await ctx.api.get<ClusterInfo>("/api/warren/cluster");
    const node = cluster.node;
    info(
      ctx.out,
      ctx.args,
      `Checking if node ${node} is critical for quorum of any quorum queues ...`,
    );
    if (!cluster.clustered) {
      ctx.out.stdout(
        json
          ? `${JSON.stringify({ result: "ok", message: "Target node seems to be the only one in a single node cluster, the check does not apply" })}\n`
          : `Node ${node} seems to be the only one in a single node cluster, the check does not apply\n`,
      );
      return EXIT.ok;
    }
    const r = await ctx.api.request("GET", "/api/health/checks/node-is-quorum-critical");
    const body = r.body as CriticalAnswer;
    if (r.status === 200) {
      ctx.out.stdout(
        json
          ? `${JSON.stringify({ result: "ok" })}\n`
          : `Node ${node} reported no quorum queues with minimum quorum\n`,
      );
      return EXIT.ok;
    }
    const queues = body.queues ?? [];
    if (json) {
      ctx.out.stdout(
        `${JSON.stringify({ result: "error", queues, message: `Node ${node} reported local queues with minimum online quorum` })}\n`,
      );
      return EXIT.unavailable;
    }
    throw new CtlError(
      EXIT.unavailable,
      queues
        .map((q) => `${q.readable_name} would lose quorum if node ${node} is stopped`)
        .join("\n"),
    );
  },
};
