import type { Log } from "../log.js";
import type { Message, StoredRef } from "../queue/message.js";
import type { MessageQueue, QueueHooks } from "../queue/message-queue.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { MessageStore } from "../store/message-store.js";
import type { BrokerSettings } from "./broker-settings.js";
import { buildSnapshot } from "./definitions.js";
import { storageQueueHooks } from "./queue-storage.js";
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

/** Durable storage, provided by the runtime when the node has a data directory. */
export interface BrokerPersistence {
  readonly store: MessageStore;
  /** Writes the definitions snapshot durably; throws when it cannot. */
  saveDefinitions(snapshot: DefinitionsSnapshot): void;
  /** Runs `fn` later in this event-loop turn's check phase (group commit of definitions). */
  schedule(fn: () => void): void;
}

/**
 * One node's state: its vhosts, users and the broker-wide registries (connections,
 * direct reply-to consumers, message ids), and the bridge to durable storage. The
 * runtime owns one Broker; connection and channel code reach everything through it.
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
  /** Queues whose dispatch stopped at its batch limit, to resume on the next turn. */
  readonly pendingDispatch = new Set<MessageQueue>();
  readonly store: MessageStore | undefined;
  private readonly queueHooks: QueueHooks;
  private nextMessageId = 1;
  private nextConnectionId = 1;
  private nextQueueId = 1;
  /** While definitions are being restored at start, changes are not saved back. */
  private restoring = false;
  private definitionsDirty = false;
  private definitionsWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    readonly settings: BrokerSettings,
    readonly log: Log,
    readonly clock: () => number = Date.now,
    private readonly persistence?: BrokerPersistence,
  ) {
    this.startedAtMs = clock();
    this.store = persistence?.store;
    this.queueHooks = storageQueueHooks(this.store, {
      discarded: (queue, entry, reason) => {
        this.log.debug(
          { queue: queue.name, vhost: queue.definition.vhost, reason, messageId: entry.message.id },
          "message discarded",
        );
      },
      lastConsumerGone: (queue) => {
        if (queue.definition.autoDelete && queue.hadConsumer) {
          this.vhosts.get(queue.definition.vhost)?.removeQueue(queue);
        }
      },
      dispatchLater: (queue) => {
        this.pendingDispatch.add(queue);
      },
    });
  }

  /** The default vhost and user, for a node starting with no definitions. */
  bootstrapDefaults(): void {
    const { defaultVhost, defaultUser, defaultPass } = this.settings;
    this.addVhost(defaultVhost);
    if (defaultUser) {
      this.users.addUser(defaultUser, defaultPass, ["administrator"]);
      this.users.setPermission(defaultVhost, defaultUser, {
        configure: ".*",
        write: ".*",
        read: ".*",
      });
    }
    this.definitionsChanged();
  }

  addVhost(name: string): VirtualHost {
    const existing = this.vhosts.get(name);
    if (existing) return existing;
    const vhost = new VirtualHost(name, this.queueHooks, {
      queueDeleted: () => {
        this.counters.queuesDeleted++;
      },
      definitionsChanged: () => this.definitionsChanged(),
      newQueueId: () => this.nextQueueId++,
    });
    this.vhosts.set(name, vhost);
    this.definitionsChanged();
    return vhost;
  }

  newMessageId(): number {
    return this.nextMessageId++;
  }

  newConnectionId(): number {
    return this.nextConnectionId++;
  }

  peekNextQueueId(): number {
    return this.nextQueueId;
  }

  raiseNextQueueId(atLeast: number): void {
    this.nextQueueId = Math.max(this.nextQueueId, atLeast);
  }

  raiseNextMessageId(atLeast: number): void {
    this.nextMessageId = Math.max(this.nextMessageId, atLeast);
  }

  /**
   * Puts a routed message on its queues. A persistent message bound for durable
   * queues is written to the store first, once for all of them; the return value
   * says whether its confirm must wait for the store to make it durable.
   */
  enqueue(queues: readonly MessageQueue[], message: Message, nowMs: number): boolean {
    let ref: StoredRef | undefined;
    if (this.store && message.persistent) {
      const durable = queues.filter((q) => q.isDurable);
      if (durable.length > 0) {
        ref = this.store.write(
          message,
          durable.map((q) => q.storeId),
          true,
        );
      }
    }
    for (const q of queues) q.enqueue(message, nowMs, ref && q.isDurable ? ref : undefined);
    return ref !== undefined;
  }

  /** Runs the dispatches that were deferred at their batch limit. */
  runPendingDispatch(): void {
    if (this.pendingDispatch.size === 0) return;
    const queues = [...this.pendingDispatch];
    this.pendingDispatch.clear();
    const now = this.clock();
    for (const q of queues) q.dispatch(now);
  }

  // --- definitions ---------------------------------------------------------

  /** Runs `fn` without saving the definitions it changes (restoring them at start). */
  restoringDefinitions(fn: () => void): void {
    this.restoring = true;
    try {
      fn();
    } finally {
      this.restoring = false;
    }
  }

  /** Something durable changed: save the definitions in this turn's group commit. */
  definitionsChanged(): void {
    if (!this.persistence || this.restoring || this.definitionsDirty) return;
    this.definitionsDirty = true;
    this.persistence.schedule(() => this.saveDefinitions());
  }

  /** A promise for the pending definitions save, or undefined when nothing is pending. */
  definitionsSaved(): Promise<void> | undefined {
    if (!this.definitionsDirty) return undefined;
    return new Promise((resolve, reject) => this.definitionsWaiters.push({ resolve, reject }));
  }

  private saveDefinitions(): void {
    this.definitionsDirty = false;
    const waiters = this.definitionsWaiters;
    this.definitionsWaiters = [];
    try {
      this.persistence!.saveDefinitions(buildSnapshot(this));
    } catch (e) {
      this.log.error({ err: String(e) }, `could not save definitions: ${(e as Error).message}`);
      for (const w of waiters) w.reject(e as Error);
      return;
    }
    for (const w of waiters) w.resolve();
  }
}
