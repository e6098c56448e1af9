/**
 * rabbitmqctl's cluster membership verbs: stop_app, start_app, reset, join_cluster,
 * forget_cluster_node. Each asks the node's management API (api/cluster-api.ts) and prints
 * its answer; a refusal (409: reset while the app runs, forget of a running node) is an
 * error with the node's text. docs/CLUSTER.md, "Growing and shrinking a cluster".
 */
import { EXIT } from "./args.js";
import { info } from "./output.js";
import { expectParams, type Verb, type VerbContext } from "./verb.js";

async function post(ctx: VerbContext, path: string, body?: unknown): Promise<number> {
  const answer = (await ctx.api.call(
    "POST",
    path,
    body === undefined ? undefined : JSON.stringify(body),
  )) as {
    message?: string;
  };
  if (answer?.message) info(ctx.out, ctx.args, answer.message);
  return EXIT.ok;
}

export const stopApp: Verb = {
  name: "stop_app",
  usage: "stop_app",
  description:
    "Stops the node's application (clients are closed with 320 and refused, the node leaves its cluster's runtime); the process and its management API stay up",
  async run(ctx) {
    expectParams(ctx, this, 0);
    return post(ctx, "/api/warren/app/stop");
  },
};

export const startApp: Verb = {
  name: "start_app",
  usage: "start_app",
  description:
    "Starts the node's application again (rejoins its cluster, catches up, serves clients)",
  async run(ctx) {
    expectParams(ctx, this, 0);
    return post(ctx, "/api/warren/app/start");
  },
};

export const reset: Verb = {
  name: "reset",
  usage: "reset",
  description:
    "Removes the node from its cluster and wipes its state (metadata log, definitions, queues and messages); the app must be stopped",
  async run(ctx) {
    expectParams(ctx, this, 0);
    return post(ctx, "/api/warren/reset");
  },
};

export const joinCluster: Verb = {
  name: "join_cluster",
  usage: "join_cluster <existing_cluster_member_node>",
  description:
    "Makes the node a member of another node's cluster (warren@host or warren@host:cluster_port); the app must be stopped and the node reset",
  async run(ctx) {
    const [node] = expectParams(ctx, this, 1);
    return post(ctx, "/api/warren/join_cluster", { node });
  },
};

export const forgetClusterNode: Verb = {
  name: "forget_cluster_node",
  usage: "forget_cluster_node <existing_cluster_member_node>",
  description:
    "Removes a stopped node from the cluster (run on a member of the majority); its classic queues are deleted",
  async run(ctx) {
    const [node] = expectParams(ctx, this, 1);
    return post(ctx, "/api/warren/forget_cluster_node", { node });
  },
};

export const CLUSTER_VERBS: Verb[] = [stopApp, startApp, reset, joinCluster, forgetClusterNode];
