/**
 * <data-dir>/cluster-peers.json: the members of this node's cluster and their cluster
 * addresses, as this node last knew them. Written whenever the member list changes
 * (join_cluster, forget_cluster_node, a member joining elsewhere), so that a node restarted
 * without --cluster-nodes still knows whom to dial; removed by `warrenctl reset`.
 * Written to a temporary file, fsynced and renamed, so a crash leaves the old or the new list.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { type MemberAddress, memberAddressOf } from "../cluster/cluster-members.js";

export const PEERS_FILE = "cluster-peers.json";

export function peersFilePath(dataDir: string): string {
  return join(dataDir, PEERS_FILE);
}

/** The members the file lists (empty when there is none); a damaged file throws, saying so. */
export function readPeersFile(dataDir: string): MemberAddress[] {
  const path = peersFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const parsed = JSON.parse(text) as { members?: unknown };
  if (!Array.isArray(parsed.members)) throw new Error(`${path} holds no member list`);
  return parsed.members.map((m) => {
    const member = memberAddressOf(m);
    if (typeof member === "string") throw new Error(`${path}: ${member}`);
    return member;
  });
}

export function writePeersFile(dataDir: string, members: readonly MemberAddress[]): void {
  const path = peersFilePath(dataDir);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeSync(fd, `${JSON.stringify({ members }, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function removePeersFile(dataDir: string): void {
  rmSync(peersFilePath(dataDir), { force: true });
}
