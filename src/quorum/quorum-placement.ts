/**
 * Where a new quorum queue's replicas go: the declaring node (client-local, RabbitMQ's
 * default leader locator) and as many others as the group size asks, spread by the queue's
 * name so that many queues declared on one node do not all pick the same followers.
 */

/** RabbitMQ 4: three replicas, or every node of a smaller cluster. */
export const DEFAULT_GROUP_SIZE = 3;

export function chooseQuorumMembers(
  home: string,
  clusterNodes: readonly string[],
  size: number | undefined,
  queueName: string,
): string[] {
  const others = [...new Set(clusterNodes)].filter((n) => n !== home).sort();
  const wanted = Math.max(1, Math.min(size ?? DEFAULT_GROUP_SIZE, others.length + 1));
  const start = others.length === 0 ? 0 : hash(queueName) % others.length;
  const members = [home];
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
