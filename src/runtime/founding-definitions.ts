/**
 * What a brand-new cluster starts from (docs/CLUSTER.md, "Forming a cluster"): the
 * definitions of the node that first leads the new metadata group, as one
 * definitions.restore, so they are committed whole or not at all. A node that had
 * definitions.json brings those (a single node turned into a cluster keeps its users,
 * vhosts, queues and policies); a fresh node brings what a fresh single node bootstraps:
 * the default vhost and the default user with full permissions on it.
 */
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { BrokerSettings } from "../vhost/broker-settings.js";
import { HASHING_ALGORITHM, hashPassword } from "../vhost/password-hash.js";

export function foundingDefinitions(
  settings: Pick<BrokerSettings, "defaultVhost" | "defaultUser" | "defaultPass">,
  local: DefinitionsSnapshot | undefined,
  randomBytes: (size: number) => Buffer,
): DefinitionsSnapshot {
  if (local !== undefined) {
    // The kept ids of unclaimed messages are this node's own business, not the cluster's.
    const { unclaimedQueueIds: _kept, ...shared } = local;
    return shared;
  }
  const { defaultVhost, defaultUser, defaultPass } = settings;
  return {
    format: "warren-definitions-1",
    nextQueueId: 1,
    vhosts: [{ name: defaultVhost }],
    users: defaultUser
      ? [
          {
            name: defaultUser,
            passwordHash: hashPassword(defaultPass, randomBytes(4)),
            hashingAlgorithm: HASHING_ALGORITHM,
            tags: ["administrator"],
          },
        ]
      : [],
    permissions: defaultUser
      ? [{ user: defaultUser, vhost: defaultVhost, configure: ".*", write: ".*", read: ".*" }]
      : [],
    exchanges: [],
    queues: [],
    bindings: [],
  };
}
