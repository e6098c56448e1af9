import type { Log } from "../log.js";
import type { Message, QueueEntry } from "../queue/message.js";
import type { DiscardReason, MessageQueue, QueueHooks } from "../queue/message-queue.js";
import type { BrokerSettings } from "./broker-settings.js";
import { UserStore } from "./users.js";
import { VirtualHost } from "./virtual-host.js";

/** A channel that consumes amq.rabbitmq.reply-to, found by the key in its reply address. */
export interface ReplyConsumer {
  deliverReply(message: Message): void;
}

/** Counters an operator reads (list and metrics); monotonic totals. */
export interface BrokerCounters {
  connectionsOpened: number;
  connectionsClosed: number;
  channelsOpened: number;
  channelsClosed: number;
  queuesDeclared: number;
  queuesDeleted: number;
  messagesPublished: number;
  messagesUnroutable: number;
  messagesDelivered: number;
  messagesRedelivered: number;
  missedHeartbeatCloses: number;
}

/**
 * One node's state: its vhosts, users and the broker-wide registries (connections,
 * direct reply-to consumers, message ids). The runtime owns one Broker; the
 * connection and channel code reach everything through it.
 */
export class Broker {
  readonly vhosts = new Map<string, VirtualHost>();
  readonly users = new UserStore();
  readonly connections = new Set<{ readonly id: number }>();
  readonly replyConsumers = new Map<string, ReplyConsumer>();
  readonly counters: BrokerCounters = {
    connectionsOpened: 0,
    connectionsClosed: 0,
    channelsOpened: 0,
    channelsClosed: 0,
    queuesDeclared: 0,
    queuesDeleted: 0,
    messagesPublished: 0,
    messagesUnroutable: 0,
    messagesDelivered: 0,
    messagesRedelivered: 0,
    missedHeartbeatCloses: 0,
  };
  readonly startedAtMs: number;
  private nextMessageId = 1;
  private nextConnectionId = 1;
  /** Queues whose dispatch stopped at its batch limit, to resume on the next turn. */
  readonly pendingDispatch = new Set<MessageQueue>();

  constructor(
    readonly settings: BrokerSettings,
    readonly log: Log,
    readonly clock: () => number = Date.now,
  ) {
    this.startedAtMs = clock();
    this.addVhost(settings.defaultVhost);
    if (settings.defaultUser) {
      this.users.addUser(settings.defaultUser, settings.defaultPass, ["administrator"]);
      this.users.setPermission(settings.defaultVhost, settings.defaultUser, {
        configure: ".*",
        write: ".*",
        read: ".*",
      });
    }
  }

  addVhost(name: string): VirtualHost {
    const existing = this.vhosts.get(name);
    if (existing) return existing;
    const vhost = new VirtualHost(name, this.queueHooks, {
      queueDeleted: () => {
        this.counters.queuesDeleted++;
      },
    });
    this.vhosts.set(name, vhost);
    return vhost;
  }

  newMessageId(): number {
    return this.nextMessageId++;
  }

  newConnectionId(): number {
    return this.nextConnectionId++;
  }

  /** Runs the dispatches that were deferred at their batch limit. */
  runPendingDispatch(): void {
    if (this.pendingDispatch.size === 0) return;
    const queues = [...this.pendingDispatch];
    this.pendingDispatch.clear();
    const now = this.clock();
    for (const q of queues) q.dispatch(now);
  }

  private readonly queueHooks: QueueHooks = {
    settled: (_queue: MessageQueue, _entry: QueueEntry) => {},
    discarded: (queue: MessageQueue, entry: QueueEntry, reason: DiscardReason) => {
      this.log.debug(
        { queue: queue.name, vhost: queue.definition.vhost, reason, messageId: entry.message.id },
        "message discarded",
      );
    },
    lastConsumerGone: (queue: MessageQueue) => {
      if (queue.definition.autoDelete && queue.hadConsumer) {
        this.vhosts.get(queue.definition.vhost)?.removeQueue(queue);
      }
    },
    dispatchLater: (queue: MessageQueue) => {
      this.pendingDispatch.add(queue);
    },
  };
}
