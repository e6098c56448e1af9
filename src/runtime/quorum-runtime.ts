/**
 * Quorum queues on a node that runs alone: every queue is a Raft group of one, kept in
 * <data-dir>/quorum (a cluster node keeps its groups in <data-dir>/raft, whose presence says
 * the node belongs to a cluster), driven by a driver of its own (no peers, a
 * short election timeout: a group of one elects itself as soon as it starts). A clustered
 * node's quorum queues run on the cluster runtime's driver instead (cluster-runtime.ts).
 */

import type { PeerTransport } from "../cluster/peer-transport.js";
import { QuorumService } from "../cluster/quorum/quorum-service.js";
import { RaftDriver } from "../cluster/raft-driver.js";
import { logWriterOf } from "../cluster/raft-log-writer.js";
import type { Log } from "../log.js";
import type { QueueType } from "../queue/queue-type.js";
import { validateQuorumArguments } from "../quorum/quorum-arguments.js";
import { FileRaftLogStore } from "../store/file-raft-log-store.js";
import type { Broker } from "../vhost/broker.js";
import { TimerTicks } from "./timer-ticks.js";

/** The checks a quorum queue declaration gets (RabbitMQ's refusals). */
export const quorumValidateArguments: QueueType["validateArguments"] = validateQuorumArguments;

/** Where a single node keeps its quorum queues' Raft logs. */
export function localQuorumDir(dataDir: string): string {
  return `${dataDir}/quorum`;
}

const TICK_MS = 25;
/** A group of one needs no margin against split votes: 100-200 ms. */
const ELECTION_TICKS = 4;
/** The service's upkeep (leadership, expiry, deadlines) every few ticks. */
const UPKEEP_EVERY_TICKS = 4;

/** A transport with nobody to talk to. */
const NO_PEERS: PeerTransport = { send: () => {}, onReceive: () => {} };

export class LocalQuorum {
  readonly service: QuorumService;
  private readonly driver: RaftDriver;
  private ticks = 0;

  private constructor(
    broker: Broker,
    log: Log,
    private readonly store: FileRaftLogStore,
    timed: ((fn: () => void) => void) | undefined,
  ) {
    const nodeName = broker.settings.nodeName;
    this.driver = new RaftDriver({
      nodeId: nodeName,
      log: logWriterOf(store),
      transport: NO_PEERS,
      ticks: new TimerTicks(TICK_MS, () => this.afterTick(), timed),
      raftOptions: {
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: 1,
        checkQuorum: false,
        preVote: false,
        random: Math.random,
      },
      observer: {
        logFailed: (error) =>
          log.error(
            { err: error.message },
            `the quorum queues' Raft log failed (${error.message}): quorum queues stop accepting until the node restarts`,
          ),
      },
    });
    this.service = new QuorumService({
      broker,
      log,
      nodeName,
      driver: this.driver,
      store,
      link: undefined,
      heartbeatTicks: 1,
      validateArguments: quorumValidateArguments,
    });
    broker.queueTypes.register(this.service.queueType);
  }

  /** Opens <data-dir>/quorum and registers the quorum queue type; start() starts the clock. */
  static async open(
    broker: Broker,
    log: Log,
    dataDir: string,
    timed?: (fn: () => void) => void,
  ): Promise<LocalQuorum> {
    const store = await FileRaftLogStore.open(localQuorumDir(dataDir), { log });
    return new LocalQuorum(broker, log, store, timed);
  }

  start(): void {
    this.driver.start();
  }

  private afterTick(): void {
    if (++this.ticks % UPKEEP_EVERY_TICKS === 0) this.service.tick(Date.now());
  }

  async stop(): Promise<void> {
    this.service.stop();
    this.driver.stop();
    await this.store.close();
  }
}
