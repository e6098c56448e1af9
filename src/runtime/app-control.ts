/**
 * rabbitmqctl's node verbs for a running process: stop_app and start_app (the process and
 * its management API stay up; clients and the cluster runtime stop and start), reset (leave
 * the cluster, wipe the node's state) and join_cluster (become a member of another node's
 * cluster). forget_cluster_node is the cluster runtime's (cluster-membership.ts).
 * docs/CLUSTER.md, "Growing and shrinking a cluster", has what the operator sees.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseClusterNodes } from "../cli/node-names.js";
import type { MemberAddress } from "../cluster/cluster-members.js";
import { MetadataUnavailableError } from "../cluster/metadata/metadata-unavailable-error.js";
import type { Log } from "../log.js";
import type { MembershipControl } from "../mgmt/api/cluster-api.js";
import { queueTypeName } from "../queue/queue-types.js";
import type { Broker } from "../vhost/broker.js";
import type { CommandSubmitter } from "../vhost/commands/command-submitter.js";
import { replaceState } from "../vhost/commands/replace-state.js";
import {
  captureState,
  EMPTY_IMAGE,
  type QueueImage,
  queueMetaOf,
} from "../vhost/commands/state-image.js";
import { readPeersFile, removePeersFile, writePeersFile } from "./cluster-peers-file.js";
import { askCluster } from "./cluster-request.js";
import type { ClusterRuntime } from "./cluster-runtime.js";
import { localQuorumDir } from "./quorum-runtime.js";

/** The verb cannot be done now; the message says why and what to do (HTTP 409). */
export class AppControlRefused extends Error {}

/** What the control needs of its node (WarrenNode). */
export interface AppHost {
  /** A node alone runs its quorum queues on a runtime of its own: closed by reset and joining. */
  closeLocalQuorum(): Promise<void>;
  /** Opens it again (start_app of a single node after a reset). */
  openLocalQuorum(): Promise<void>;
  readonly nodeName: string;
  readonly dataDir: string;
  readonly log: Log;
  readonly broker: Broker;
  /** This node's cluster port as configured (0: chosen at start, unusable for joining). */
  readonly clusterPort: number;
  readonly configuredPeers: readonly MemberAddress[];
  secret(): string;
  cluster(): ClusterRuntime | undefined;
  /** Opens and starts the cluster runtime (the node then refuses clients until caught up). */
  openCluster(remembered: readonly MemberAddress[]): Promise<void>;
  /** Stops the cluster runtime and forgets it. */
  closeCluster(): Promise<void>;
  /** The definitions files this node writes: definitions.json, then its backup. */
  readonly definitionsFiles: readonly string[];
}

export class AppControl {
  /** Why the app is stopped (stop_app), or undefined while it runs. */
  stoppedReason: string | undefined;
  /** After a reset, --cluster-nodes no longer counts: the node is a fresh single node. */
  private wasReset = false;
  /** The single node's own submitter, put back by a reset of a former member. */
  private readonly localCommands: CommandSubmitter;

  constructor(private readonly host: AppHost) {
    this.localCommands = host.broker.commands;
  }

  /** The members this node knows it belongs with: its peer file, else --cluster-nodes. */
  rememberedMembers(): MemberAddress[] {
    return readPeersFile(this.host.dataDir);
  }

  /** --cluster-nodes, unless a reset made this node forget its cluster. */
  configuredPeersInForce(): readonly MemberAddress[] {
    return this.wasReset ? [] : this.host.configuredPeers;
  }

  /** Whether this node is (or is becoming) a cluster member rather than a single node. */
  clustered(): boolean {
    const self = this.host.nodeName;
    if (this.rememberedMembers().some((m) => m.name !== self)) return true;
    return !this.wasReset && this.host.configuredPeers.some((m) => m.name !== self);
  }

  async stopApp(by: string): Promise<string> {
    const { broker, log, nodeName } = this.host;
    if (this.stoppedReason !== undefined) return `the app on node ${nodeName} is already stopped`;
    const reason = `node ${nodeName} is stopped (warrenctl stop_app)`;
    log.warn(
      { by },
      `stopping the app on node ${nodeName} (requested by ${by}): client connections are closed and refused; the management API stays up`,
    );
    this.stoppedReason = reason;
    broker.pausedReason = undefined;
    broker.pause(reason);
    if (this.host.cluster() !== undefined) {
      await this.host.closeCluster();
      this.dropStandIns();
      // Changes fail at once while stopped, rather than after the group's wait.
      broker.useReplicatedCommands(refusing(reason));
      log.info({}, `node ${nodeName} left the cluster's runtime (transport closed, Raft stopped)`);
    }
    return `Stopping rabbit application on node ${nodeName} ...`;
  }

  /**
   * The queues homed on other nodes are stand-ins bound to the cluster link just closed:
   * they go now, here only (their homes keep them), and come back bound to the new link
   * when start_app restores the group's state. The local export is left as it was.
   */
  private dropStandIns(): void {
    const { broker, nodeName } = this.host;
    const replica = broker.metadataReplica();
    const image = captureState(replica.state);
    const vhosts = image.vhosts.map((v) => {
      // Quorum queues too: they are bound to the runtime just stopped, and come back bound
      // to the new one (their replicas' logs stay on disk).
      const gone = new Set(
        v.queues
          .filter((q) => (q.home !== null && q.home !== nodeName) || isQuorumImage(v.name, q))
          .map((q) => q.name),
      );
      return {
        ...v,
        queues: v.queues.filter((q) => !gone.has(q.name)),
        bindings: v.bindings.filter(
          (b) => b.destinationKind !== "queue" || !gone.has(b.destination),
        ),
      };
    });
    const effects = replaceState(replica.state, { ...image, vhosts });
    replica.run(effects.filter((e) => e.kind !== "persist"));
  }

  async startApp(by: string): Promise<string> {
    const { broker, log, nodeName } = this.host;
    if (this.stoppedReason === undefined) return `the app on node ${nodeName} is already running`;
    log.info({ by }, `starting the app on node ${nodeName} (requested by ${by})`);
    broker.pausedReason = undefined;
    this.stoppedReason = undefined;
    if (this.clustered()) {
      const members = this.rememberedMembers();
      // A member's quorum queues run on the cluster runtime's driver.
      await this.host.closeLocalQuorum();
      await this.host.openCluster(members.length > 0 ? members : []);
    } else {
      await this.host.openLocalQuorum();
      if (broker.commands !== this.localCommands) broker.commands = this.localCommands;
      log.info({}, `node ${nodeName} serves clients again`);
    }
    return `Starting node ${nodeName} ...`;
  }

  /**
   * Leaves the cluster (asking a reachable member to remove this node) and wipes the node's
   * state: the metadata group's log, the peer list, the definitions and every queue with its
   * messages. Logs each thing it removes.
   */
  async reset(by: string): Promise<string> {
    const { log, nodeName, dataDir } = this.host;
    this.requireStopped();
    log.warn({ by }, `resetting node ${nodeName} (requested by ${by})`);
    const lines: string[] = [`Resetting node ${nodeName} ...`];
    const others = this.knownMembers().filter((m) => m.name !== nodeName);
    if (others.length > 0) lines.push(await this.leave(others));
    // A single node's quorum queues go with the rest (their log is closed first).
    await this.host.closeLocalQuorum();
    const quorumDir = localQuorumDir(dataDir);
    if (existsSync(quorumDir)) {
      log.warn({ dir: quorumDir }, `reset: removing the quorum queues' Raft logs in ${quorumDir}`);
      rmSync(quorumDir, { recursive: true, force: true });
    }
    const raftDir = join(dataDir, "raft");
    if (existsSync(raftDir)) {
      log.warn({ dir: raftDir }, `reset: removing the metadata group's Raft log in ${raftDir}`);
      rmSync(raftDir, { recursive: true, force: true });
    }
    if (others.length > 0)
      log.warn({}, "reset: removing the cluster's member list (cluster-peers.json)");
    removePeersFile(dataDir);
    await this.wipeDefinitions();
    this.wasReset = true;
    lines.push(
      `node ${nodeName} is now a fresh single node; start_app to serve, or join_cluster first`,
    );
    return lines.join("\n");
  }

  /** join_cluster: only a stopped node without data of its own (reset, or fresh) may join. */
  async joinCluster(node: string, by: string): Promise<string> {
    const { log, nodeName, clusterPort } = this.host;
    this.requireStopped();
    const member = this.knownMembers().find((m) => m.name !== nodeName);
    if (member !== undefined || existsSync(join(this.host.dataDir, "raft")))
      throw new AppControlRefused(
        `node ${nodeName} is already a member of a cluster${member ? ` (with ${member.name})` : ""}; run \`warrenctl reset\` first`,
      );
    const own = this.ownData();
    if (own !== undefined && !this.wasReset)
      throw new AppControlRefused(
        `node ${nodeName} has data of its own (${own}) that joining would replace; run \`warrenctl reset\` first`,
      );
    if (clusterPort === 0)
      throw new AppControlRefused(
        `node ${nodeName} has no fixed cluster port: start it with --cluster-port`,
      );
    let target: MemberAddress;
    try {
      target = parseClusterNodes(node, clusterPort, "join_cluster")[0]!;
    } catch (e) {
      throw new AppControlRefused((e as Error).message);
    }
    if (target === undefined || target.name === nodeName)
      throw new AppControlRefused(`join_cluster needs another node's name (warren@host[:port])`);
    const self: MemberAddress = {
      name: nodeName,
      host: nodeName.slice(nodeName.indexOf("@") + 1),
      port: clusterPort,
    };
    log.info(
      { by, target },
      `node ${nodeName} asks ${target.name} at ${target.host}:${target.port} to join its cluster (requested by ${by})`,
    );
    const answer = await askCluster({
      nodeName,
      secret: this.host.secret(),
      target,
      request: { op: "join", member: self },
      log,
    });
    if (!answer.ok) throw new AppControlRefused(`could not join ${target.name}: ${answer.error}`);
    const members = answer.members.some((m) => m.name === nodeName)
      ? answer.members
      : [self, ...answer.members];
    writePeersFile(this.host.dataDir, members);
    log.info(
      { members },
      `node ${nodeName} joined the cluster of ${target.name} (members: ${members.map((m) => m.name).join(", ")}); start_app to catch up and serve`,
    );
    return `Clustering node ${nodeName} with ${target.name}`;
  }

  /** The verbs as the management API calls them (api/cluster-api.ts). */
  control(): MembershipControl {
    return {
      stopApp: (by) => this.stopApp(by),
      startApp: (by) => this.startApp(by),
      reset: (by) => this.reset(by),
      joinCluster: (node, by) => this.joinCluster(node, by),
      forgetClusterNode: (node) => this.forgetClusterNode(node),
      appStoppedReason: () => this.stoppedReason,
      isRefusal: (e) => e instanceof AppControlRefused,
    };
  }

  /** forget_cluster_node: done by the cluster runtime, which must run here. */
  async forgetClusterNode(node: string): Promise<string> {
    const cluster = this.host.cluster();
    if (cluster === undefined)
      throw new AppControlRefused(
        `node ${this.host.nodeName} runs no cluster (its app is stopped, or it is a single node)`,
      );
    const answer = await cluster.forget(node);
    if (!answer.ok) throw new AppControlRefused(answer.error);
    return `Removing node ${node} from the cluster${answer.detail ? `; ${answer.detail}` : ""}`;
  }

  private requireStopped(): void {
    if (this.stoppedReason === undefined)
      throw new AppControlRefused(
        `the app is running on node ${this.host.nodeName}; run \`warrenctl stop_app\` first`,
      );
  }

  private knownMembers(): MemberAddress[] {
    const remembered = this.rememberedMembers();
    if (remembered.length > 0 || this.wasReset) return remembered;
    return [...this.host.configuredPeers];
  }

  /** Asks the members, one after another, to remove this node; says what happened. */
  private async leave(others: readonly MemberAddress[]): Promise<string> {
    const { log, nodeName } = this.host;
    let why = "";
    for (const target of others) {
      const answer = await askCluster({
        nodeName,
        secret: this.host.secret(),
        target,
        request: { op: "leave", name: nodeName },
        log,
        connectTimeoutMs: 3_000,
      });
      if (answer.ok) {
        log.warn(
          { via: target.name },
          `reset: node ${nodeName} left its cluster (removed by way of ${target.name})`,
        );
        return `node ${nodeName} left its cluster`;
      }
      why = answer.error;
    }
    log.warn(
      { err: why },
      `reset: could not reach the cluster to leave it (${why}); the others still list ${nodeName}: run forget_cluster_node ${nodeName} on one of them`,
    );
    return `could not leave the cluster (${why}); run \`warrenctl forget_cluster_node ${nodeName}\` on one of its members`;
  }

  /**
   * Queues (with their messages), exchanges, users and vhosts go; a fresh node's defaults
   * come back, and definitions.json is rewritten with them. The backup of the old
   * definitions is removed once the new file is saved.
   */
  private async wipeDefinitions(): Promise<void> {
    const { broker, log } = this.host;
    const state = broker.metadataReplica().state;
    let queues = 0;
    for (const v of state.vhosts.values()) queues += v.queues.size;
    log.warn(
      { vhosts: state.vhosts.size, users: state.users.users.size, queues },
      `reset: deleting ${state.vhosts.size} vhosts, ${state.users.users.size} users and ${queues} queues with their messages`,
    );
    broker.commands = this.localCommands;
    broker.metadataReplica().run(replaceState(state, EMPTY_IMAGE));
    broker.bootstrapDefaults();
    // A former member's broker does not track its saves (the group was its durable record):
    // the save is scheduled on the next turn and takes a few ms; give it a moment.
    await (broker.definitionsSaved() ?? new Promise((r) => setTimeout(r, 250)));
    for (const file of this.host.definitionsFiles.slice(1)) {
      if (!existsSync(file)) continue;
      log.warn({ file }, `reset: removing ${file}, the backup of the definitions before the reset`);
      rmSync(file, { force: true });
    }
    log.warn(
      { file: this.host.definitionsFiles[0] },
      `reset: ${this.host.definitionsFiles[0]} now holds a fresh node's definitions`,
    );
  }

  /** What this node holds beyond a fresh node's defaults, or undefined. */
  private ownData(): string | undefined {
    const state = this.host.broker.metadataReplica().state;
    let queues = 0;
    for (const v of state.vhosts.values()) queues += v.queues.size;
    if (queues === 0 && state.vhosts.size <= 1 && state.users.users.size <= 1) return undefined;
    return `${state.vhosts.size} vhosts, ${state.users.users.size} users, ${queues} queues`;
  }
}

/** Whether a queue's image is a quorum queue's (by its x-queue-type). */
function isQuorumImage(vhost: string, q: QueueImage): boolean {
  return queueTypeName(queueMetaOf(vhost, q).definition) === "quorum";
}

/** A submitter for a stopped app: every change is refused at once with the reason. */
function refusing(reason: string): CommandSubmitter {
  return {
    submit: () =>
      Promise.reject(
        new MetadataUnavailableError(
          "noLeader",
          `the metadata store is unavailable: ${reason}; the change was not made`,
        ),
      ),
  };
}
