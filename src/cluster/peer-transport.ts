/**
 * How a node's Raft driver reaches the other nodes. One send carries the messages of many
 * groups to one peer, so a TCP transport writes once per peer per batch (RaftGroupSet groups
 * a batch's messages by destination for this). Delivery is best effort: Raft tolerates loss,
 * delay, duplication and reordering (src/raft/messages.ts), so a transport may drop messages
 * for a peer that is down or slow rather than queue them without bound, and never throws for
 * one. The simulator implements this over its seeded network; the cluster's TCP transport
 * implements it over authenticated node-to-node connections.
 */
import type { GroupMessage, NodeId } from "../raft/index.js";

/** Takes the messages that arrived from a peer, of any groups, in arrival order. */
export type MessageReceiver = (messages: readonly GroupMessage[]) => void;

export interface PeerTransport {
  /** Sends one batch of messages, of any groups, to one peer. */
  send(to: NodeId, messages: readonly GroupMessage[]): void;
  /** Registers where messages from peers go (the driver registers itself once). */
  onReceive(receiver: MessageReceiver): void;
}
