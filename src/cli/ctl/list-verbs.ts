import { EXIT, usageError } from "./args.js";
import { seg } from "./client.js";
import { info, printRows } from "./output.js";
import { type Verb, type VerbContext, vhostOf } from "./verb.js";

type Item = Record<string, unknown>;
type Column = (item: Item) => unknown;

/** A column read straight from the API's JSON field of the same name. */
const field =
  (key: string): Column =>
  (i) =>
    i[key];

function fields(...keys: string[]): Record<string, Column> {
  return Object.fromEntries(keys.map((k) => [k, field(k)]));
}

/** rabbitmqctl's "pid" columns stand for an Erlang process; Warren shows a stable stand-in. */
const queuePid: Column = (i) => `<${i.node}.${i.vhost}.${i.name}>`;

interface ListSpec {
  readonly verb: string;
  readonly description: string;
  readonly path: (ctx: VerbContext) => string;
  readonly header: (ctx: VerbContext) => string;
  readonly defaults: readonly string[];
  readonly columns: Readonly<Record<string, Column>>;
  readonly vhostOption: boolean;
}

const SPECS: ListSpec[] = [
  {
    verb: "list_queues",
    description: "Lists queues and their properties",
    path: (c) => `/api/queues/${seg(vhostOf(c))}`,
    header: (c) =>
      `Timeout: ${Number(c.args.flags.get("timeout") ?? 60).toFixed(1)} seconds ...\nListing queues for vhost ${vhostOf(c)} ...`,
    defaults: ["name", "messages"],
    columns: {
      ...fields(
        "name",
        "durable",
        "auto_delete",
        "arguments",
        "policy",
        "operator_policy",
        "effective_policy_definition",
        "exclusive",
        "exclusive_consumer_tag",
        "messages_ready",
        "messages_unacknowledged",
        "messages",
        "messages_ready_ram",
        "messages_unacknowledged_ram",
        "messages_ram",
        "message_bytes",
        "message_bytes_ready",
        "message_bytes_unacknowledged",
        "message_bytes_ram",
        "head_message_timestamp",
        "consumers",
        "consumer_utilisation",
        "consumer_capacity",
        "memory",
        "state",
        "type",
        "idle_since",
        "single_active_consumer_tag",
      ),
      pid: queuePid,
      owner_pid: (i) => (i.owner_pid_details as Item | undefined)?.name ?? "",
      exclusive_consumer_pid: () => "",
      messages_persistent: (i) => (i.durable ? i.messages : 0),
      message_bytes_persistent: (i) => (i.durable ? i.message_bytes : 0),
      disk_reads: () => 0,
      disk_writes: () => 0,
      slave_pids: () => "",
      synchronised_slave_pids: () => "",
      // Quorum queues: their Raft group's; classic queues: their home node (the API's fields).
      leader: (i) => (i.leader === undefined ? i.node : (i.leader ?? "")),
      members: (i) => i.members ?? [i.node],
      online: (i) => i.online ?? [i.node],
    },
    vhostOption: true,
  },
  {
    verb: "list_connections",
    description: "Lists AMQP 0.9.1 connections for the node",
    path: () => "/api/connections",
    header: () => "Listing connections ...",
    defaults: ["user", "peer_host", "peer_port", "state"],
    columns: {
      ...fields(
        "name",
        "port",
        "host",
        "peer_port",
        "peer_host",
        "ssl",
        "ssl_protocol",
        "ssl_key_exchange",
        "ssl_cipher",
        "ssl_hash",
        "peer_cert_subject",
        "peer_cert_issuer",
        "peer_cert_validity",
        "state",
        "channels",
        "protocol",
        "auth_mechanism",
        "user",
        "vhost",
        "timeout",
        "frame_max",
        "channel_max",
        "client_properties",
        "recv_oct",
        "recv_cnt",
        "send_oct",
        "send_cnt",
        "send_pend",
        "connected_at",
        "user_provided_name",
        "type",
      ),
      pid: (i) => `<${i.node}.${i.name}>`,
    },
    vhostOption: false,
  },
  {
    verb: "list_channels",
    description: "Lists all channels in the node",
    path: () => "/api/channels",
    header: () => "Listing channels ...",
    defaults: ["pid", "user", "consumer_count", "messages_unacknowledged"],
    columns: {
      ...fields(
        "pid",
        "name",
        "number",
        "user",
        "vhost",
        "transactional",
        "confirm",
        "consumer_count",
        "messages_unacknowledged",
        "messages_uncommitted",
        "acks_uncommitted",
        "messages_unconfirmed",
        "prefetch_count",
        "global_prefetch_count",
        "state",
      ),
      connection: (i) => (i.connection_details as Item | undefined)?.name,
    },
    vhostOption: false,
  },
  {
    verb: "list_consumers",
    description: "Lists all consumers for a vhost",
    path: (c) => `/api/consumers/${seg(vhostOf(c))}`,
    header: (c) => `Listing consumers in vhost ${vhostOf(c)} ...`,
    defaults: [
      "queue_name",
      "channel_pid",
      "consumer_tag",
      "ack_required",
      "prefetch_count",
      "active",
      "arguments",
    ],
    columns: {
      ...fields(
        "channel_pid",
        "consumer_tag",
        "ack_required",
        "prefetch_count",
        "active",
        "activity_status",
        "arguments",
        "exclusive",
      ),
      queue_name: (i) => (i.queue as Item | undefined)?.name,
    },
    vhostOption: true,
  },
  {
    verb: "list_exchanges",
    description: "Lists exchanges",
    path: (c) => `/api/exchanges/${seg(vhostOf(c))}`,
    header: (c) => `Listing exchanges for vhost ${vhostOf(c)} ...`,
    defaults: ["name", "type"],
    columns: fields("name", "type", "durable", "auto_delete", "internal", "arguments", "policy"),
    vhostOption: true,
  },
  {
    verb: "list_bindings",
    description: "Lists all bindings on a vhost",
    path: (c) => `/api/bindings/${seg(vhostOf(c))}`,
    header: (c) => `Listing bindings for vhost ${vhostOf(c)}...`,
    defaults: [
      "source_name",
      "source_kind",
      "destination_name",
      "destination_kind",
      "routing_key",
      "arguments",
    ],
    columns: {
      source_name: field("source"),
      source_kind: () => "exchange",
      destination_name: field("destination"),
      destination_kind: field("destination_type"),
      routing_key: field("routing_key"),
      arguments: field("arguments"),
    },
    vhostOption: true,
  },
  {
    verb: "list_vhosts",
    description: "Lists virtual hosts",
    path: () => "/api/vhosts",
    header: () => "Listing vhosts ...",
    defaults: ["name"],
    columns: fields(
      "name",
      "description",
      "tags",
      "default_queue_type",
      "metadata",
      "tracing",
      "cluster_state",
      "messages",
    ),
    vhostOption: false,
  },
  {
    verb: "list_users",
    description: "List user names and tags",
    path: () => "/api/users",
    header: () => "Listing users ...",
    defaults: ["user", "tags"],
    columns: { user: field("name"), tags: field("tags") },
    vhostOption: false,
  },
  {
    verb: "list_permissions",
    description: "Lists user permissions in a virtual host",
    path: (c) => `/api/vhosts/${seg(vhostOf(c))}/permissions`,
    header: (c) => `Listing permissions for vhost "${vhostOf(c)}" ...`,
    defaults: ["user", "configure", "write", "read"],
    columns: fields("user", "configure", "write", "read"),
    vhostOption: true,
  },
  {
    verb: "list_policies",
    description: "Lists all policies in a virtual host",
    path: (c) => `/api/policies/${seg(vhostOf(c))}`,
    header: (c) => `Listing policies for vhost "${vhostOf(c)}" ...`,
    defaults: ["vhost", "name", "pattern", "apply-to", "definition", "priority"],
    columns: fields("vhost", "name", "pattern", "apply-to", "definition", "priority"),
    vhostOption: true,
  },
  {
    verb: "list_operator_policies",
    description: "Lists operator policy overrides for a virtual host",
    path: (c) => `/api/operator-policies/${seg(vhostOf(c))}`,
    header: (c) => `Listing operator policy overrides for vhost "${vhostOf(c)}" ...`,
    defaults: ["vhost", "name", "pattern", "apply-to", "definition", "priority"],
    columns: fields("vhost", "name", "pattern", "apply-to", "definition", "priority"),
    vhostOption: true,
  },
];

function listVerb(spec: ListSpec): Verb {
  const usage = `${spec.verb}${spec.vhostOption ? " [-p <vhost>]" : ""} [--no-table-headers] [<column> ...]`;
  return {
    name: spec.verb,
    usage,
    description: spec.description,
    async run(ctx) {
      const columns = ctx.params.length > 0 ? [...ctx.params] : [...spec.defaults];
      const unknown = columns.filter((c) => !(c in spec.columns));
      if (unknown.length > 0) {
        throw usageError(
          `Error (argument validation): Info key(s) ${unknown.join(",")} are not supported\n` +
            `Supported: ${Object.keys(spec.columns).join(", ")}\nUsage: warrenctl ${usage}`,
        );
      }
      const items = await ctx.api.get<Item[]>(spec.path(ctx));
      info(ctx.out, ctx.args, spec.header(ctx));
      const rows = items.map((i) =>
        Object.fromEntries(columns.map((c) => [c, spec.columns[c]!(i)])),
      );
      printRows(ctx.out, ctx.args, columns, rows);
      return EXIT.ok;
    },
  };
}

/** list_queues, list_connections, list_channels, list_consumers, ... with rabbitmqctl's columns. */
export const LIST_VERBS: Verb[] = SPECS.map(listVerb);

/** list_user_permissions <user>: the user's permissions in every vhost. */
export const listUserPermissions: Verb = {
  name: "list_user_permissions",
  usage: "list_user_permissions <username>",
  description: "Lists permissions of a user across all virtual hosts",
  async run(ctx) {
    const [user] = ctx.params;
    if (!user) throw usageError(`Usage: warrenctl ${this.usage}`);
    const items = await ctx.api.get<Item[]>(`/api/users/${seg(user)}/permissions`);
    info(ctx.out, ctx.args, `Listing permissions for user "${user}" ...`);
    printRows(ctx.out, ctx.args, ["vhost", "configure", "write", "read"], items);
    return EXIT.ok;
  },
};
