/**
 * Wires a node's metadata to the metadata Raft group: the group's state machine applies to
 * the broker's definitions and live topology, and the broker's commands go through the group.
 * The runtime (and the tests) build the driver, its log store, transport and ticks; this
 * adds the group to that driver and installs the replicated submitter.
 */
import type { GroupId, PersistedState } from "../../raft/index.js";
import type { Broker } from "../../vhost/broker.js";
import type { RaftDriver } from "../raft-driver.js";
import type { RaftGroupHandle } from "../raft-group-handle.js";
import type { CommandForwarder, ForwardedCommandHandler } from "./command-forwarder.js";
import type { MetadataReply } from "./metadata-codec.js";
import { MetadataMachine } from "./metadata-machine.js";
import { ReplicatedCommands } from "./replicated-commands.js";
import type { Timers } from "./timers.js";

/** The metadata group's id: one group over all nodes of a cluster. */
export const METADATA_GROUP_ID: GroupId = "metadata";

export interface MetadataGroupConfig {
  readonly broker: Broker;
  readonly driver: RaftDriver;
  /** What the log store holds for the group (RaftLogStore.load), or a new group's state. */
  readonly persisted: PersistedState;
  readonly forwarder: CommandForwarder;
  /** Snapshot and compact after this many applied entries (default: the driver's, 4,096). */
  readonly snapshotEveryEntries?: number;
  /** Where waiting comes from: the runtime passes REAL_TIMERS, a test its own clock. */
  readonly timers: Timers;
  /** How long a submit waits for a leader and the commit before 506 (default 10 s). */
  readonly timeoutMs?: number;
  readonly retryMs?: number;
  /** How many quorum queues each node leads (where a balanced quorum queue's leader goes). */
  readonly quorumLeaders?: () => ReadonlyMap<string, number>;
}

export interface MetadataGroup {
  readonly machine: MetadataMachine;
  readonly group: RaftGroupHandle<MetadataReply>;
  readonly commands: ReplicatedCommands;
  /** What the forwarder's receiving end calls with a follower's command. */
  readonly serveForwarded: ForwardedCommandHandler;
}

/**
 * Adds the metadata group to the driver and routes the broker's commands through it.
 * Restoring the group's snapshot replaces the broker's definitions with the group's
 * (a new group's: empty), so a node's local definitions never diverge from the cluster's;
 * a node that brings definitions into a new cluster proposes them (definitions.restore).
 */
export function startMetadataGroup(config: MetadataGroupConfig): MetadataGroup {
  const { broker, driver } = config;
  const machine = new MetadataMachine(broker.metadataReplica());
  const group = driver.addGroup<MetadataReply>(METADATA_GROUP_ID, {
    persisted: config.persisted,
    stateMachine: machine,
    snapshotEveryEntries: config.snapshotEveryEntries,
  });
  const commands = new ReplicatedCommands({
    nodeId: driver.nodeId,
    homeName: broker.settings.nodeName,
    clusterNodes: () => group.status()?.membership.voters ?? [],
    ...(config.quorumLeaders ? { quorumLeaders: config.quorumLeaders } : {}),
    group,
    machine,
    forwarder: config.forwarder,
    refusedByLimit: (limit) => {
      broker.counters.refusedByLimit[limit]++;
    },
    timers: config.timers,
    timeoutMs: config.timeoutMs,
    retryMs: config.retryMs,
  });
  broker.useReplicatedCommands(commands);
  return { machine, group, commands, serveForwarded: (bytes) => commands.serveForwarded(bytes) };
}
