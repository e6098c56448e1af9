/**
 * How a brand-new cluster gets its initial definitions, exactly once (docs/CLUSTER.md, "The
 * founding definitions"): the first leader of a new metadata group, once an entry of its term
 * is committed and applied, proposes them as one definitions.restore. "New" is read from the
 * group's log (no command ever committed, no snapshot), never from its contents, so it
 * happens once for the life of the group whatever is deleted later.
 */

import { METADATA_GROUP_ID } from "../cluster/metadata/index.js";
import type { RaftDriver } from "../cluster/raft-driver.js";
import type { PeerRequests } from "../cluster/transport/peer-requests.js";
import type { Log } from "../log.js";
import type { NodeId } from "../raft/index.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { Broker } from "../vhost/broker.js";
import { foundingDefinitions } from "./founding-definitions.js";

/** The request kind that asks a peer for the definitions it would found a new cluster with. */
const FOUNDING_KIND = 3;
const FOUNDING_TIMEOUT_MS = 3_000;

export interface ClusterFoundingConfig {
  readonly broker: Broker;
  readonly log: Log;
  readonly nodeName: NodeId;
  readonly driver: RaftDriver;
  readonly requests: PeerRequests;
  readonly peers: readonly NodeId[];
  /** This node's definitions.json, if it has one. */
  readonly localDefinitions: DefinitionsSnapshot | undefined;
  /** Whether this node leads with an entry of its own term committed. */
  readonly leaderReady: () => boolean;
}

export class ClusterFounding {
  /** The group has committed a command (or snapshotted): founded for good. */
  founded = false;
  private founding = false;

  constructor(private readonly config: ClusterFoundingConfig) {
    // What this node would found a cluster with, for a leader that has no definitions.
    config.requests.serve(FOUNDING_KIND, async () =>
      Buffer.from(JSON.stringify({ definitions: config.localDefinitions ?? null }), "utf8"),
    );
  }

  /**
   * Whether the group ever committed a command: after a snapshot it did (snapshots follow
   * applied commands); else the committed entries say (a new group has only its leaders'
   * empty entries). Once founded, always founded.
   */
  checkFounded(): boolean {
    if (this.founded) return true;
    const machine = this.config.driver.machine(METADATA_GROUP_ID)!;
    const s = machine.status();
    let founded = s.snapshotIndex > 0;
    for (let i = s.firstIndex; !founded && i <= s.commitIndex; i++) {
      founded = machine.entryAt(i)?.kind === "command";
    }
    this.founded = founded;
    return founded;
  }

  /**
   * The first leader of a brand-new group proposes the founding definitions, once: its own
   * definitions.json, else the first (by node name) of those its reachable peers have (a
   * single node turned into a cluster keeps its definitions whoever is elected first), else
   * the default vhost and user.
   */
  maybeFound(): void {
    if (this.checkFounded() || this.founding || !this.config.leaderReady()) return;
    const { driver } = this.config;
    const s = driver.machine(METADATA_GROUP_ID)!.status();
    if ((driver.appliedIndex(METADATA_GROUP_ID) ?? 0) < s.commitIndex) return;
    this.founding = true;
    this.chooseFounding()
      .then(({ from, definitions }) => this.found(from, definitions))
      .finally(() => {
        this.founding = false;
      });
  }

  private async chooseFounding(): Promise<{
    from: NodeId;
    definitions: DefinitionsSnapshot | undefined;
  }> {
    const self = this.config.nodeName;
    if (this.config.localDefinitions)
      return { from: self, definitions: this.config.localDefinitions };
    const peers = [...this.config.peers].sort();
    const offers = await Promise.all(
      peers.map((peer) =>
        this.config.requests
          .request(peer, FOUNDING_KIND, new Uint8Array(0), FOUNDING_TIMEOUT_MS)
          .then(
            (answer) =>
              (JSON.parse(answer.toString("utf8")) as { definitions: DefinitionsSnapshot | null })
                .definitions ?? undefined,
            () => undefined,
          ),
      ),
    );
    const at = offers.findIndex((d) => d !== undefined);
    return at < 0
      ? { from: self, definitions: undefined }
      : { from: peers[at]!, definitions: offers[at] };
  }

  private async found(from: NodeId, definitions: DefinitionsSnapshot | undefined): Promise<void> {
    if (this.checkFounded() || !this.config.leaderReady()) return;
    const { broker, log } = this.config;
    const snapshot = foundingDefinitions(broker.settings, definitions, broker.randomBytes);
    const what = definitions
      ? `the definitions of ${from === this.config.nodeName ? "this node" : from} ` +
        `(${snapshot.vhosts.length} vhosts, ${snapshot.users.length} users, ` +
        `${snapshot.queues.length} queues, ${snapshot.exchanges.length} exchanges)`
      : `the default vhost '${broker.settings.defaultVhost}' and user '${broker.settings.defaultUser}'`;
    log.info({ from, fromDefinitions: !!definitions }, `founding a new cluster with ${what}`);
    await Promise.resolve(
      broker.submit({ type: "definitions.restore", snapshot, home: from }),
    ).then(
      () => {
        this.checkFounded();
        log.info({}, `the new cluster's initial definitions are committed: ${what}`);
      },
      (e: Error) =>
        log.warn({ err: e.message }, `could not found the cluster yet: ${e.message}; retrying`),
    );
  }
}
