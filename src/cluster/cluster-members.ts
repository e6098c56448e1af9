/**
 * Who a node dials: the metadata group's Raft membership says who the members are, and
 * their cluster addresses come from, in order, the replicated member list (every node that
 * joined with join_cluster is recorded there by the leader), --cluster-nodes (the founding
 * members, as the operator gives them now), and the node's own peer file
 * (<data-dir>/cluster-peers.json, which a restart without --cluster-nodes starts from). A name with no known address is left out until
 * one is learned. Pure: the runtime reads and writes the file and drives the transport.
 *
 * Also the wire form of the membership requests nodes send each other (join, leave, forget)
 * and of the member-list commands in the metadata log.
 */
import type { Membership, NodeId } from "../raft/index.js";

/** A member's name and where its cluster port listens. */
export interface MemberAddress {
  readonly name: NodeId;
  readonly host: string;
  readonly port: number;
}

/** The metadata log's commands that keep the member list (applied by MetadataMachine). */
export type MemberCommand =
  | { readonly type: "cluster.member.put"; readonly member: MemberAddress }
  | { readonly type: "cluster.member.delete"; readonly name: NodeId };

export function isMemberCommand(command: { readonly type: string }): command is MemberCommand {
  return command.type === "cluster.member.put" || command.type === "cluster.member.delete";
}

/**
 * Every member but `self`, with the first address any source knows for it. The membership
 * decides who; a node in a source but not in the membership (a forgotten one) is not dialled.
 */
export function peersOf(
  membership: Membership,
  self: NodeId,
  sources: readonly ReadonlyMap<NodeId, MemberAddress>[],
): Map<NodeId, MemberAddress> {
  const peers = new Map<NodeId, MemberAddress>();
  for (const name of [...membership.voters, ...membership.learners]) {
    if (name === self) continue;
    for (const source of sources) {
      const address = source.get(name);
      if (address !== undefined) {
        peers.set(name, address);
        break;
      }
    }
  }
  return peers;
}

/** Whether two peer maps name the same members at the same addresses. */
export function samePeers(
  a: ReadonlyMap<NodeId, MemberAddress>,
  b: ReadonlyMap<NodeId, MemberAddress>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (y === undefined || y.host !== x.host || y.port !== x.port) return false;
  }
  return true;
}

export function byName(members: Iterable<MemberAddress>): Map<NodeId, MemberAddress> {
  return new Map([...members].map((m) => [m.name, m]));
}

/** A member address from untrusted JSON, or why it is not one. */
export function memberAddressOf(value: unknown): MemberAddress | string {
  if (typeof value !== "object" || value === null) return "not an object";
  const { name, host, port } = value as Record<string, unknown>;
  if (typeof name !== "string" || !name.includes("@")) return "no node name (name@host)";
  if (typeof host !== "string" || host.length === 0) return `${name} has no host`;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65_535)
    return `${name} has no port 1-65535`;
  return { name, host, port };
}

// ---------------------------------------------------------------- requests between nodes

/**
 * What a node asks of the cluster: to join (a node that is not a member yet; its address is
 * where the others will dial it), to leave (a member being reset), or to forget a member
 * that is down (forget_cluster_node on another member).
 */
export type MembershipRequest =
  | { readonly op: "join"; readonly member: MemberAddress }
  | { readonly op: "leave"; readonly name: NodeId }
  | { readonly op: "forget"; readonly name: NodeId };

/** The answer: done, with the members the cluster now has; or refused, with why. */
export type MembershipAnswer =
  | { readonly ok: true; readonly members: readonly MemberAddress[]; readonly detail: string }
  | { readonly ok: false; readonly error: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeJson(value: MembershipRequest | MembershipAnswer): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeRequest(bytes: Uint8Array): MembershipRequest | string {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    return `malformed membership request: ${(e as Error).message}`;
  }
  if (typeof value !== "object" || value === null) return "malformed membership request";
  if (value.op === "join") {
    const member = memberAddressOf(value.member);
    return typeof member === "string"
      ? `malformed join request: ${member}`
      : { op: "join", member };
  }
  if ((value.op === "leave" || value.op === "forget") && typeof value.name === "string")
    return { op: value.op, name: value.name };
  return `unknown membership request ${JSON.stringify(value.op)}`;
}

export function decodeAnswer(bytes: Uint8Array): MembershipAnswer {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, error: `malformed answer: ${(e as Error).message}` };
  }
  if (value?.ok === true && Array.isArray(value.members)) {
    const members: MemberAddress[] = [];
    for (const m of value.members) {
      const member = memberAddressOf(m);
      if (typeof member === "string") return { ok: false, error: `malformed answer: ${member}` };
      members.push(member);
    }
    return { ok: true, members, detail: String(value.detail ?? "") };
  }
  if (typeof value?.error === "string") return { ok: false, error: value.error };
  return { ok: false, error: `malformed answer: ${JSON.stringify(value).slice(0, 200)}` };
}
