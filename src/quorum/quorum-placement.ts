/**
 * Where a new quorum queue's replicas go: its intended leader first (x-queue-leader-locator:
 * the declaring node, RabbitMQ's default client-local, or the least loaded with balanced)
 * and as many others as the group size asks, spread by the queue's name so that many queues
 * declared on one node do not all pick the same followers. The member listed first takes
 * the leadership once the group's first election is over (QuorumService.elected).
 */

/** RabbitMQ 4: three replicas, or every node of a smaller cluster. */
export const DEFAULT_GROUP_SIZE = 3;

/**
 * The members, the intended leader first: the declaring node (client-local), or with
 * `balanced` the node leading the fewest quorum queues (`leaders`, as the declaring node knows
 * them; ties by name), then the others.
 */
export function chooseQuorumMembers(
  home: string,
  clusterNodes: readonly string[],
  size: number | undefined,
  queueName: string,
  locator: "client-local" | "balanced" = "client-local",
  leaders: ReadonlyMap<string, number> = new Map(),
): string[] {
  const nodes = [...new Set([home, ...clusterNodes])].sort();
  const first =
    locator === "balanced"
      ? nodes.reduce((best, n) => ((leaders.get(n) ?? 0) < (leaders.get(best) ?? 0) ? n : best))
      : home;
  const others = nodes.filter((n) => n !== first);
  const wanted = Math.max(1, Math.min(size ?? DEFAULT_GROUP_SIZE, others.length + 1));
  const start = others.length === 0 ? 0 : hash(queueName) % others.length;
  const members = [first];
  for (let i = 0; members.length < wanted; i++) members.push(others[(start + i) % others.length]!);
  return members;
}

/** FNV-1a of the name: stable across nodes and runs. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
