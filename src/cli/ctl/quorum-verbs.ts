/**
 * RabbitMQ's rabbitmq-queues verbs for quorum queues, under warrenctl: quorum_status,
 * add_member, delete_member, grow, shrink, rebalance (check_if_node_is_quorum_critical is in
 * quorum-critical.ts). Each asks the node's management API (mgmt/api/quorum-api.ts) and prints
 * as rabbitmq-queues does: the same banners, columns and exit codes.
 */
import { EXIT, flagSet, flagString, usageError } from "./args.js";
import { apiError, seg } from "./client.js";
import { formatterOf, info, printPrettyTable, printRows } from "./output.js";
import { expectParams, type Verb, type VerbContext, vhostOf } from "./verb.js";

interface RaftJson {
  term: number;
  commit_index: number;
  last_applied: number;
  snapshot_index: number;
  last_index: number;
}

interface StatusJson {
  node: string;
  machine_version: number | null;
  local: (RaftJson & { role: string }) | null;
  member_details: {
    node: string;
    online: boolean;
    role: string;
    membership: string;
    raft: RaftJson | null;
  }[];
}

interface OutcomeJson {
  vhost: string;
  name: string;
  size: number | null;
  result: string;
  ok: boolean;
}

/** rabbitmq-queues quorum_status's columns (RabbitMQ 4: one row per member, by node name). */
const STATUS_COLUMNS = [
  "Node Name",
  "Raft State",
  "Membership",
  "Last Log Index",
  "Last Written",
  "Last Applied",
  "Commit Index",
  "Snapshot Index",
  "Term",
  "Machine Version",
] as const;

/** One member's row; a member this node cannot ask shows why in Raft State, the rest blank. */
export function statusRows(s: StatusJson): Record<string, unknown>[] {
  return [...s.member_details]
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((m) => {
      const raft = m.raft ?? (m.node === s.node ? s.local : null);
      if (!m.online) return { "Node Name": m.node, "Raft State": "noconnection" };
      return {
        "Node Name": m.node,
        "Raft State": m.role,
        Membership: m.membership,
        "Last Log Index": raft?.last_index,
        "Last Written": raft?.last_index,
        "Last Applied": raft?.last_applied,
        "Commit Index": raft?.commit_index,
        "Snapshot Index": raft?.snapshot_index,
        Term: raft?.term,
        "Machine Version": s.machine_version ?? undefined,
      };
    });
}

export const quorumStatus: Verb = {
  name: "quorum_status",
  usage: "quorum_status [--vhost <vhost>] <queue>",
  description: "Displays the quorum status of a queue",
  async run(ctx) {
    const [queue] = expectParams(ctx, this, 1);
    formatterOf(ctx.args, ["pretty", "table", "json"], "pretty");
    const vhost = vhostOf(ctx);
    const status = await ctx.api.get<StatusJson>(
      `/api/warren/quorum-status/${seg(vhost)}/${seg(queue!)}`,
    );
    info(ctx.out, ctx.args, `Status of queue ${queue} on node ${status.node} ...`);
    const rows = statusRows(status);
    if (flagString(ctx.args, "formatter") === "table")
      printRows(ctx.out, ctx.args, STATUS_COLUMNS, rows);
    else printPrettyTable(ctx.out, ctx.args, STATUS_COLUMNS, rows);
    return EXIT.ok;
  },
};

export const addMember: Verb = {
  name: "add_member",
  usage: "add_member [--vhost <vhost>] <queue> <node>",
  description: "Adds a queue member/replica on the given node.",
  async run(ctx) {
    const [queue, node] = expectParams(ctx, this, 2);
    info(ctx.out, ctx.args, `Adding a member for queue ${queue} on node ${node}...`);
    await ctx.api.call(
      "POST",
      `/api/queues/quorum/${seg(vhostOf(ctx))}/${seg(queue!)}/replicas/add`,
      { node },
    );
    return EXIT.ok;
  },
};

export const deleteMember: Verb = {
  name: "delete_member",
  usage: "delete_member [--vhost <vhost>] <queue> <node>",
  description: "Removes a queue member (replica) on the given node.",
  async run(ctx) {
    const [queue, node] = expectParams(ctx, this, 2);
    info(ctx.out, ctx.args, `Removing a replica of queue ${queue} on node ${node}...`);
    await ctx.api.call(
      "DELETE",
      `/api/queues/quorum/${seg(vhostOf(ctx))}/${seg(queue!)}/replicas/delete`,
      { node },
    );
    return EXIT.ok;
  },
};

/** grow's and shrink's table: vhost, name, size, result per queue (--errors-only: the failed). */
function printOutcomes(ctx: VerbContext, outcomes: readonly OutcomeJson[]): void {
  const shown = flagSet(ctx.args, "errors-only") ? outcomes.filter((o) => !o.ok) : outcomes;
  printRows(
    ctx.out,
    ctx.args,
    ["vhost", "name", "size", "result"],
    shown.map((o) => ({ ...o, size: o.size ?? "?" })),
  );
}

function patterns(ctx: VerbContext) {
  return {
    vhost_pattern: flagString(ctx.args, "vhost-pattern") ?? ".*",
    queue_pattern: flagString(ctx.args, "queue-pattern") ?? ".*",
  };
}

export const grow: Verb = {
  name: "grow",
  usage:
    "grow <node> <all | even> [--vhost-pattern <pattern>] [--queue-pattern <pattern>] [--errors-only]",
  description:
    "Grows quorum queue clusters by adding a member (replica) on the specified node for all matching queues",
  async run(ctx) {
    const [node, strategy] = expectParams(ctx, this, 2);
    if (strategy !== "all" && strategy !== "even") {
      throw usageError(
        `Error (argument validation): strategy '${strategy}' is not recognised.\nUsage: warrenctl ${this.usage}`,
      );
    }
    info(ctx.out, ctx.args, `Growing ${strategy} quorum queues on ${node}...`);
    const r = await ctx.api.request("POST", `/api/queues/quorum/replicas/on/${seg(node!)}/grow`, {
      strategy,
      ...patterns(ctx),
    });
    if (r.status === 404) {
      throw usageError(
        `Error: node ${node} is not a running member of the cluster (grow places replicas on running nodes only)`,
      );
    }
    if (r.status >= 400) throw apiError(r);
    const outcomes = r.body as OutcomeJson[];
    printOutcomes(ctx, outcomes);
    return EXIT.ok;
  },
};

export const shrink: Verb = {
  name: "shrink",
  usage: "shrink <node> [--errors-only]",
  description:
    "Shrinks quorum queue clusters by removing any members (replicas) on the given node.",
  async run(ctx) {
    const [node] = expectParams(ctx, this, 1);
    info(ctx.out, ctx.args, `Shrinking quorum queues on ${node}...`);
    const outcomes = (await ctx.api.call(
      "DELETE",
      `/api/queues/quorum/replicas/on/${seg(node!)}/shrink`,
    )) as OutcomeJson[];
    printOutcomes(ctx, outcomes);
    return EXIT.ok;
  },
};

const REBALANCE_BANNERS: Record<string, string> = {
  all: "Re-balancing leaders of all replicated queues...",
  classic: "Re-balancing leaders of replicated (mirrored, non-exclusive) classic queues...",
  quorum: "Re-balancing leaders of quorum queues...",
};

export const rebalance: Verb = {
  name: "rebalance",
  usage:
    "rebalance < all | classic | quorum > [--vhost-pattern <pattern>] [--queue-pattern <pattern>]",
  description: "Re-balances leaders of replicated queues across up-and-running cluster nodes",
  async run(ctx) {
    const [type] = expectParams(ctx, this, 1);
    if (!(type! in REBALANCE_BANNERS)) {
      throw usageError(`Error: type ${type} is not supported. Try one of all, classic, quorum.`);
    }
    formatterOf(ctx.args, ["pretty", "table", "json"], "pretty");
    info(ctx.out, ctx.args, REBALANCE_BANNERS[type!]!);
    const answer = (await ctx.api.call("POST", "/api/rebalance/queues", {
      type,
      ...patterns(ctx),
    })) as { summary: { node: string; quorum_leaders: number }[] };
    const columns = ["Node name", "Number of quorum queues"];
    const rows = answer.summary.map((s) => ({
      "Node name": s.node,
      "Number of quorum queues": s.quorum_leaders,
    }));
    if (flagString(ctx.args, "formatter") === "table") printRows(ctx.out, ctx.args, columns, rows);
    else printPrettyTable(ctx.out, ctx.args, columns, rows);
    return EXIT.ok;
  },
};

/** The rabbitmq-queues verbs warrenctl has, in rabbitmq-queues' help order. */
export const QUORUM_VERBS: Verb[] = [
  addMember,
  deleteMember,
  grow,
  shrink,
  rebalance,
  quorumStatus,
];
