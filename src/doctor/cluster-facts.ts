/**
 * What the doctor reads about the cluster: the parts of the management layer's ClusterView
 * (mgmt/cluster-view.ts) its checks use, declared here because the doctor sits below mgmt/
 * and may not import it. A ClusterView is one (the types are checked where mgmt builds the
 * doctor's input). Absent on a single node.
 */
export interface ClusterFacts {
  readonly thisNode: string;
  readonly members: readonly MemberFacts[];
  readonly partitions: readonly { readonly node: string; readonly cannotSee: readonly string[] }[];
  readonly paused?: { readonly reason: string; readonly sinceMs: number };
  readonly metadata: {
    readonly role: string;
    readonly term: number;
    readonly leader?: string;
    readonly voters: readonly string[];
  };
}

export interface MemberFacts {
  readonly name: string;
  readonly clusterAddress: string;
  readonly reachable: boolean;
  readonly lastHeardMs?: number;
  readonly unreachableSinceMs?: number;
  readonly version?: string;
  readonly clockOffsetMs?: number;
}

/** The peers this node cannot reach. */
export function unreachablePeers(c: ClusterFacts): MemberFacts[] {
  return c.members.filter((m) => m.name !== c.thisNode && !m.reachable);
}
