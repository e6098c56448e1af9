import type { Message } from "../message/message.js";
import type { Queue, QueueCreation } from "../queue/queue-type.js";

/*
 * What a node of a cluster plugs into its Broker so that its clients reach other nodes
 * (cluster/queues/ provides both): stand-ins for the queues that live elsewhere, and
 * direct reply-to replies for reply consumers of other nodes.
 */

/** Builds the stand-in of a queue whose home is another node. */
export type RemoteQueueFactory = (creation: QueueCreation, home: string) => Queue;

/** Direct reply-to across a cluster: a reply consumer's key starts with its node's prefix. */
export interface RemoteReplies {
  readonly keyPrefix: string;
  /** Sends a reply whose key belongs to another node there; false when it cannot. */
  forward(key: string, message: Message): boolean;
}
