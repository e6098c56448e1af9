import type { TaggedJson } from "../../protocol/field-table-json.js";
import type { DefinitionsSnapshot } from "../../store/definitions-store.js";
import type { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES } from "../limits.js";
import type { Policy, PolicyKind } from "../policies.js";
import type { QueueMeta } from "./metadata-state.js";

/**
 * Every change to definitions, as plain data that survives JSON.stringify (in a
 * cluster each one is a Raft log entry). Everything a command needs is in it: names
 * are chosen before it is made (a server-named queue's amq.gen- name, a password's
 * salted hash), so applying it on any node gives the same state. Field tables travel
 * as tagged JSON, which keeps every AMQP type.
 */
export type MetadataCommand =
  | VhostAdd
  | VhostDelete
  | VhostSetLimit
  | VhostSetUnroutableCapture
  | UserPut
  | UserDelete
  | UserSetLimit
  | PermissionSet
  | PermissionClear
  | TopicPermissionSet
  | TopicPermissionClear
  | PolicySet
  | PolicyClear
  | ExchangeDeclare
  | ExchangeDelete
  | QueueDeclare
  | QueueDelete
  | QueuesDropOwned
  | BindingAdd
  | BindingRemove
  | QueueIdsRaise
  | DefinitionsRestore
  | DefinitionsSave;

export type Args = Record<string, TaggedJson>;

/**
 * A request made by a client (an AMQP channel, or the management API acting as its
 * user): the rules RabbitMQ applies to clients apply. `owner` is the requesting
 * connection's key (none for the management API, which owns no exclusive queue).
 */
export interface ClientRequest {
  readonly owner?: string;
}

/**
 * Adds a vhost; with a default queue type, sets it (on an existing vhost too, as
 * RabbitMQ's PUT /api/vhosts/{name} and update_vhost_metadata do).
 */
export interface VhostAdd {
  readonly type: "vhost.add";
  readonly vhost: string;
  readonly defaultQueueType?: string;
}

/** Deletes a vhost with everything in it; its connections are closed. */
export interface VhostDelete {
  readonly type: "vhost.delete";
  readonly vhost: string;
}

/** Sets one vhost limit, or clears it (no value). */
export interface VhostSetLimit {
  readonly type: "vhost.set-limit";
  readonly vhost: string;
  readonly limit: keyof typeof VHOST_LIMIT_NAMES;
  readonly value?: number;
}

/** Beyond RabbitMQ: the queue that keeps a vhost's unroutable messages (none: off). */
export interface VhostSetUnroutableCapture {
  readonly type: "vhost.set-unroutable-capture";
  readonly vhost: string;
  readonly queue?: string;
}

/** Creates a user, or updates an existing one's password hash and tags. */
export interface UserPut {
  readonly type: "user.put";
  readonly user: string;
  readonly passwordHash: string;
  readonly hashingAlgorithm: string;
  readonly tags: readonly string[];
}

/** Deletes a user and its permissions. */
export interface UserDelete {
  readonly type: "user.delete";
  readonly user: string;
}

export interface UserSetLimit {
  readonly type: "user.set-limit";
  readonly user: string;
  readonly limit: keyof typeof USER_LIMIT_NAMES;
  readonly value?: number;
}

export interface PermissionSet {
  readonly type: "permission.set";
  readonly vhost: string;
  readonly user: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

export interface PermissionClear {
  readonly type: "permission.clear";
  readonly vhost: string;
  readonly user: string;
}

export interface TopicPermissionSet {
  readonly type: "topic-permission.set";
  readonly vhost: string;
  readonly user: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** Clears one exchange's topic permission, or all of the user's in the vhost (no exchange). */
export interface TopicPermissionClear {
  readonly type: "topic-permission.clear";
  readonly vhost: string;
  readonly user: string;
  readonly exchange?: string;
}

export interface PolicySet {
  readonly type: "policy.set";
  readonly kind: PolicyKind;
  readonly policy: Policy;
}

export interface PolicyClear {
  readonly type: "policy.clear";
  readonly kind: PolicyKind;
  readonly vhost: string;
  readonly name: string;
}

export interface ExchangeDeclare {
  readonly type: "exchange.declare";
  readonly vhost: string;
  readonly exchange: string;
  readonly exchangeType: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: Args;
  /** A client's declaration: names starting with amq. are reserved (definitions import may use them). */
  readonly client?: ClientRequest;
}

export interface ExchangeDelete {
  readonly type: "exchange.delete";
  readonly vhost: string;
  readonly exchange: string;
  readonly ifUnused: boolean;
}

/**
 * Declares a queue, or checks an existing one is equivalent. An exclusive queue is
 * owned by the client's connection. A client's declaration is held to the vhost's
 * max-queues limit (definitions import is not).
 */
export interface QueueDeclare {
  readonly type: "queue.declare";
  readonly vhost: string;
  readonly queue: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: Args;
  readonly client?: ClientRequest;
  /**
   * In a cluster, the node a new queue lives on (its home): the node whose client declared
   * it, filled in by the node that submits the command. Absent on a single node.
   */
  readonly home?: string;
  /**
   * In a cluster, the members a quorum queue gets if this declaration creates one (the
   * submitting node chooses them). Absent on a single node.
   */
  readonly members?: readonly string[];
}

/**
 * Deletes a queue. `if-unused` and `if-empty` are about messages and consumers, which
 * live with the queue, not in the definitions: the requester checks them before it
 * submits. With `id`, only that queue goes (auto-delete, x-expires and vhost deletion
 * name the queue they saw, so they never delete a newer queue of the same name).
 */
export interface QueueDelete {
  readonly type: "queue.delete";
  readonly vhost: string;
  readonly queue: string;
  readonly id?: number;
  /** A client's request: another connection's exclusive queue is locked (405). */
  readonly client?: ClientRequest;
}

/** A connection closed: the exclusive queues it owned go. */
export interface QueuesDropOwned {
  readonly type: "queues.drop-owned";
  readonly vhost: string;
  readonly owner: string;
}

/** queue.bind and exchange.bind. */
export interface BindingAdd {
  readonly type: "binding.add";
  readonly vhost: string;
  readonly source: string;
  readonly destinationKind: "queue" | "exchange";
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: Args;
  /** A client's request: another connection's exclusive queue is locked (405). */
  readonly client?: ClientRequest;
}

/** queue.unbind and exchange.unbind: unbinding what is not there succeeds. */
export interface BindingRemove {
  readonly type: "binding.remove";
  readonly vhost: string;
  readonly source: string;
  readonly destinationKind: "queue" | "exchange";
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: Args;
}

/** Queue ids found in the message store at start are never given out again. */
export interface QueueIdsRaise {
  readonly type: "queue-ids.raise";
  readonly atLeast: number;
}

/** Installs definitions (definitions.json at start; in a cluster, a snapshot). */
export interface DefinitionsRestore {
  readonly type: "definitions.restore";
  readonly snapshot: DefinitionsSnapshot;
  /**
   * In a cluster, the home of the queues it creates: the node whose definitions (and so
   * whose message store) they come from. Absent on a single node.
   */
  readonly home?: string;
}

/** Saves the definitions as they are (the file on disk is stale: restored from its backup). */
export interface DefinitionsSave {
  readonly type: "definitions.save";
}

/** What each command answers when it is applied. */
export interface Results {
  "vhost.add": { readonly created: boolean };
  "vhost.delete": { readonly deleted: boolean };
  "vhost.set-limit": Record<string, never>;
  "vhost.set-unroutable-capture": Record<string, never>;
  "user.put": { readonly created: boolean };
  "user.delete": { readonly deleted: boolean };
  "user.set-limit": Record<string, never>;
  "permission.set": { readonly created: boolean };
  "permission.clear": { readonly cleared: boolean };
  "topic-permission.set": Record<string, never>;
  "topic-permission.clear": Record<string, never>;
  "policy.set": { readonly created: boolean };
  "policy.clear": { readonly cleared: boolean };
  "exchange.declare": { readonly created: boolean };
  "exchange.delete": { readonly deleted: boolean };
  "queue.declare": { readonly created: boolean; readonly queue: QueueMeta };
  "queue.delete": { readonly deleted: boolean };
  "queues.drop-owned": { readonly dropped: number };
  "binding.add": { readonly created: boolean };
  "binding.remove": { readonly removed: boolean };
  "queue-ids.raise": { readonly raised: boolean };
  "definitions.restore": Record<string, never>;
  "definitions.save": Record<string, never>;
}

export type ResultOf<C extends MetadataCommand> = Results[C["type"]];
