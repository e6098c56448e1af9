import type { Log } from "../log.js";
import type { Message, StoredRef } from "../message/message.js";
import { type AmqpError, connectionError, replyText } from "../protocol/amqp-error.js";
import { readHeaders } from "../protocol/content-properties.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import { classicQueueType } from "../queue/classic-queue-type.js";
import { ACCEPTED, afterSync, type EnqueueOutcome } from "../queue/enqueue-outcome.js";
import { MemoryBudget } from "../queue/memory-budget.js";
import type { QueueHooks } from "../queue/queue-hooks.js";
import { type QueueSettings, resolveQueueSettings } from "../queue/queue-settings.js";
import type { Queue, QueueDefinition } from "../queue/queue-type.js";
import { QueueTypes, queueTypeName } from "../queue/queue-types.js";
import type { Exchange } from "../routing/exchange.js";
import type { DefinitionsSnapshot } from "../store/definitions-store.js";
import type { MessageStore } from "../store/message-store.js";
import { type AlarmResource, AlarmState, type ResourceStats } from "./alarms.js";
import { type BrokerCounters, newBrokerCounters } from "./broker-counters.js";
import type { BrokerSettings } from "./broker-settings.js";
import type { BrokerSources } from "./broker-sources.js";
import { Chores, POLICY_SLICE, policyChore, releaseChore, upkeepChore } from "./chores.js";
import type { RemoteQueueFactory, RemoteReplies } from "./cluster-reach.js";
import {
  type Applied,
  type CommandSubmitter,
  LocalCommands,
  type Submitted,
} from "./commands/command-submitter.js";
import type { MetadataCommand, ResultOf } from "./commands/command-types.js";
import type { Effect } from "./commands/effects.js";
import { type EffectReport, EffectsRunner } from "./commands/effects-runner.js";
import { type MetadataState, newMetadataState, type VhostMeta } from "./commands/metadata-state.js";
import { OwnerKeys } from "./commands/owner-keys.js";
import { deadLetter } from "./dead-lettering.js";
import { buildSnapshotInSlices } from "./definitions.js";
import { DefinitionsSaver } from "./definitions-saver.js";
import { type LimitRefusal, limitErrors, limitReached } from "./limits.js";
import { LoginThrottle } from "./login-throttle.js";
import { HASHING_ALGORITHM, hashPassword } from "./password-hash.js";
import type { Policy, PolicyKind, PolicyStore } from "./policies.js";
import { storageQueueHooks } from "./queue-storage.js";
import type { ConnectionEvents, RegisteredConnection } from "./registered-connection.js";
import type { UserStore } from "./users.js";
import { VirtualHost } from "./virtual-host.js";

/** A channel that consumes amq.rabbitmq.reply-to, found by the key in its reply address. */
export interface ReplyConsumer {
  deliverReply(message: Message): void;
}

/** Durable storage, provided by the runtime when the node has a data directory. */
export interface BrokerPersistence {
  readonly store: MessageStore;
  /**
   * Writes the definitions snapshot durably: resolves once it is on disk and rejects
   * when it cannot be (a synchronous implementation returns or throws). At most one
   * save runs at a time.
   */
  saveDefinitions(snapshot: DefinitionsSnapshot): void | Promise<void>;
  /** Runs `fn` later in this event-loop turn's check phase (group commit of definitions). */
  schedule(fn: () => void): void;
}

/**
 * One node's state: its vhosts, users and the broker-wide registries (connections,
 * direct reply-to consumers, message ids), and the bridge to durable storage. The
 * runtime owns one Broker; connection and channel code reach everything through it.
 */
/**
 * An expired queue's deletion is submitted again after this long if it has not taken effect
 * (longer than a replicated submit may wait, so one is never doubled while it waits).
 */
const EXPIRY_RESUBMIT_MS = 15_000;

export class Broker {
  /** The live vhosts, built from the definitions (`metadata`) by the effects of commands. */
  readonly vhosts = new Map<string, VirtualHost>();
  /** The queue types this node runs, by x-queue-type: classic, and any registered later. */
  readonly queueTypes = new QueueTypes();
  /**
   * The definitions as plain data: changed only by applying metadata commands
   * (`commands.submit`), never field by field.
   */
  readonly metadata: MetadataState = newMetadataState(this.queueTypes);
  readonly connections = new Set<RegisteredConnection>();
  readonly replyConsumers = new Map<string, ReplyConsumer>();
  readonly counters: BrokerCounters = newBrokerCounters();

  readonly connectionEvents: ConnectionEvents = {};
  readonly alarms = new AlarmState();
  readonly loginThrottle = new LoginThrottle();
  /** Open connections per vhost and per user, and open channels per user (for limits). */
  readonly connectionsByVhost = new Map<string, number>();
  readonly connectionsByUser = new Map<string, number>();
  readonly channelsByUser = new Map<string, number>();
  /** Descriptor, memory, disk and event-loop figures, kept fresh by the runtime's resource monitor. */
  resources: Readonly<ResourceStats> | undefined;
  readonly startedAtMs: number;
  /** Why the node does not serve clients now (a paused minority), or undefined while it does. */
  pausedReason: string | undefined;
  /** Milliseconds since the epoch, from the sources the runtime (or a test) gave. */
  readonly clock: () => number;
  /** Random bytes, from the same sources: names, tags, salts. */
  readonly randomBytes: (size: number) => Buffer;
  /** Queues whose dispatch stopped at its batch limit, to resume on the next turn. */
  readonly pendingDispatch = new Set<Queue>();
  /** In a cluster: builds the stand-ins of queues that live on other nodes (cluster/queues/). */
  remoteQueues: RemoteQueueFactory | undefined;
  /** In a cluster: direct reply-to keys name their node, and replies for others go there. */
  remoteReplies: RemoteReplies | undefined;
  readonly store: MessageStore | undefined;
  /**
   * Memory all queues together may use for entries before they page new ones to the
   * store; the runtime sizes it from the memory limit (unbounded without a runtime).
   */
  readonly memory = new MemoryBudget();
  /** Work done in slices on later turns (purges, deletes, mass expiry); the runtime runs it. */
  readonly chores = new Chores();
  /** Names for the connections that own exclusive queues, as commands carry them. */
  readonly owners: OwnerKeys;
  /**
   * Where every definitions change goes: applied here and now on one node (the
   * cluster replaces it with the metadata Raft group's submitter).
   */
  commands: CommandSubmitter;
  /**
   * Whether `commands` is a cluster's replicated submitter: the metadata group's commit
   * is then the durable record, and definitions.json only a local export nobody waits on.
   */
  private replicated = false;
  /** Expired queues whose deletion was submitted, and when (it waits on the group in a cluster). */
  private readonly expiring = new WeakMap<Queue, number>();
  private readonly effects: EffectsRunner;
  /** Saves definitions.json when effects ask (group commit); waited on for durable replies. */
  private readonly definitionsSaver: DefinitionsSaver | undefined;
  private readonly queueHooks: QueueHooks;
  private nextMessageId = 1;
  private nextConnectionId = 1;

  constructor(
    readonly settings: BrokerSettings,
    readonly log: Log,
    sources: BrokerSources,
    persistence?: BrokerPersistence,
  ) {
    this.clock = sources.clock;
    this.randomBytes = sources.randomBytes;
    this.startedAtMs = this.clock();
    this.store = persistence?.store;
    this.owners = new OwnerKeys(settings.nodeName);
    const saver =
      persistence &&
      new DefinitionsSaver({
        // Yields between slices on the runtime's schedule (the event loop's check phase).
        build: () =>
          buildSnapshotInSlices(
            this,
            () => new Promise((resolve) => persistence.schedule(resolve)),
          ),
        save: (snapshot) => persistence.saveDefinitions(snapshot),
        schedule: (fn) => persistence.schedule(fn),
        failed: (e) =>
          this.log.error(
            { err: String(e), code: (e as NodeJS.ErrnoException).code },
            this.replicated
              ? `could not write the local export of the definitions (definitions.json): ${e.message}; ` +
                  "the cluster's metadata log holds every change, so nothing is lost"
              : `could not save definitions: ${e.message}; the change is in effect but not on disk, ` +
                  "and is lost if the node stops before a later save succeeds",
          ),
      });
    this.definitionsSaver = saver;
    this.effects = new EffectsRunner(this, saver);
    this.commands = new LocalCommands(this.metadata, this.effects);
    const hooks = storageQueueHooks(this.store, {
      discarded: (queue, entry, reason) => deadLetter(this, queue, entry, reason),
      // Called when the last of its consumers left: it had one (auto-delete's condition).
      lastConsumerGone: (queue) => {
        if (queue.definition.autoDelete) {
          this.vhosts.get(queue.definition.vhost)?.removeQueue(queue);
        }
      },
      dispatchLater: (queue) => {
        this.pendingDispatch.add(queue);
      },
      log,
    });
    this.queueHooks = {
      ...hooks,
      memory: this.memory,
      store: this.store,
      releaseLater: (queue, entries) => this.chores.add(releaseChore(queue, entries, hooks)),
      upkeepLater: (queue, upkeep) => this.chores.add(upkeepChore(queue, upkeep)),
    };
    this.queueTypes.register(classicQueueType(this.queueHooks));
  }

  /** Users, their permissions and topic permissions (part of the definitions). */
  get users(): UserStore {
    return this.metadata.users;
  }

  /** Policies and operator policies (part of the definitions). */
  get policies(): PolicyStore {
    return this.metadata.policies;
  }

  /** Submits a definitions change (see `commands`). */
  submit<C extends MetadataCommand>(command: C): Submitted<ResultOf<C>> {
    return this.commands.submit(command);
  }

  /**
   * What the cluster's metadata group applies committed commands to on this node: the
   * definitions and the runner of their effects (cluster/metadata/MetadataMachine).
   */
  metadataReplica(): {
    readonly state: MetadataState;
    run(effects: readonly Effect[]): EffectReport;
    readonly log: Log;
  } {
    return { state: this.metadata, run: (effects) => this.effects.run(effects), log: this.log };
  }

  /**
   * Sends every definitions change through a replicated submitter from now on (a cluster's
   * metadata group, cluster/metadata/ReplicatedCommands). The group's commit is then the
   * durable record: replies no longer wait for definitions.json, which is still written
   * after changes as a local export (docs/CLUSTER.md, "Metadata on Raft").
   */
  useReplicatedCommands(submitter: CommandSubmitter): void {
    this.commands = submitter;
    this.replicated = true;
  }

  /**
   * Submits a change and needs its answer now: for the node's own conveniences
   * (bootstrap, the VirtualHost and Broker helpers below, tests), which run on a
   * submitter that applies at once. A replicated submitter must be awaited instead.
   */
  submitNow<C extends MetadataCommand>(command: C): Applied<ResultOf<C>> {
    const submitted = this.commands.submit(command);
    if (submitted instanceof Promise)
      throw new Error(`${command.type} needs a submitter that applies at once`);
    return submitted;
  }

  /**
   * Submits a change the node makes by itself (auto-delete, x-expires, a closed
   * connection's exclusive queues). On one node it applies now and a refusal throws, as
   * before. In a cluster nobody waits for it: the deletion takes effect when the group
   * applies it, and a refusal or an unavailable group is logged (the queue stays; the
   * trigger fires again, or an operator deletes it).
   */
  submitTrigger<C extends MetadataCommand>(command: C): Applied<ResultOf<C>> | undefined {
    const submitted = this.commands.submit(command);
    if (!(submitted instanceof Promise)) return submitted;
    submitted.catch((e: Error) =>
      this.log.warn(
        { command: command.type, vhost: (command as { vhost?: string }).vhost, err: e.message },
        `the node's own ${command.type} did not go through the metadata group: ${e.message}`,
      ),
    );
    return undefined;
  }

  /**
   * Adds (or replaces) a user with a password, through the user.put command as the
   * management API would: for the node's own conveniences and tests.
   */
  addUser(name: string, password: string, tags: string[] = []): void {
    this.submitNow({
      type: "user.put",
      user: name,
      passwordHash: hashPassword(password, this.randomBytes(4)),
      hashingAlgorithm: HASHING_ALGORITHM,
      tags,
    });
  }

  /** The default vhost and user, for a node starting with no definitions. */
  bootstrapDefaults(): void {
    const { defaultVhost, defaultUser, defaultPass } = this.settings;
    this.submitNow({ type: "vhost.add", vhost: defaultVhost });
    if (defaultUser) {
      this.submitNow({
        type: "user.put",
        user: defaultUser,
        passwordHash: hashPassword(defaultPass, this.randomBytes(4)),
        hashingAlgorithm: HASHING_ALGORITHM,
        tags: ["administrator"],
      });
      this.submitNow({
        type: "permission.set",
        vhost: defaultVhost,
        user: defaultUser,
        configure: ".*",
        write: ".*",
        read: ".*",
      });
    }
  }

  /** Adds a vhost (nothing when it exists); returns the live vhost. */
  addVhost(name: string): VirtualHost {
    this.submitNow({ type: "vhost.add", vhost: name });
    return this.vhosts.get(name)!;
  }

  /** The live vhost for a vhost's definitions; the effects runner adds it to `vhosts`. */
  newVirtualHost(meta: VhostMeta): VirtualHost {
    return new VirtualHost(meta, this.queueTypes, {
      queueDeleted: () => {
        this.counters.queuesDeleted++;
      },
      queueSettings: (def) => this.queueSettings(def),
      exchangePolicy: (vhostName, exchange) =>
        this.policies.match("policy", vhostName, "exchange", exchange),
      submitNow: (command) => this.submitNow(command),
      submitTrigger: (command) => this.submitTrigger(command),
      ownerKey: (owner) => this.owners.keyOf(owner),
      forgetOwner: (owner) => this.owners.forget(owner),
      remoteQueue: (creation, home) =>
        home === this.settings.nodeName ? undefined : this.remoteQueues?.(creation, home),
    });
  }

  /**
   * Pauses the node (the minority side of a partition: RabbitMQ's pause_minority): every
   * client connection is closed with 320 CONNECTION_FORCED and the reason, and
   * `admitConnection` refuses new ones until `resume`. The runtime also stops taking
   * sockets and the health checks answer 503 with the reason.
   */
  pause(reason: string): void {
    if (this.pausedReason !== undefined) return;
    this.pausedReason = reason;
    this.log.error({ reason }, `pausing: ${reason}; closing client connections`);
    for (const conn of [...this.connections]) {
      conn.close(ReplyCode.CONNECTION_FORCED, replyText(ReplyCode.CONNECTION_FORCED, reason));
    }
  }

  /** Serves clients again (a majority is back). */
  resume(): void {
    if (this.pausedReason === undefined) return;
    this.log.info({ reason: this.pausedReason }, "resuming: the cluster's majority is back");
    this.pausedReason = undefined;
  }

  /**
   * Admits an authenticated connection to a vhost under the node, vhost and user
   * connection limits (RabbitMQ's texts); counts it until `connectionClosed`.
   */
  admitConnection(vhost: VirtualHost, user: string): void {
    if (this.pausedReason !== undefined) {
      throw connectionError(ReplyCode.CONNECTION_FORCED, this.pausedReason);
    }
    const open = [...this.connectionsByVhost.values()].reduce((a, b) => a + b, 0);
    const nodeLimit = this.settings.maxConnections;
    const refuse = (why: LimitRefusal, err: AmqpError) => {
      this.counters.refusedByLimit[why]++;
      throw err;
    };
    if (nodeLimit > 0 && open >= nodeLimit)
      refuse("node_connections", limitErrors.nodeConnections(nodeLimit));
    const vhostLimit = vhost.limits.maxConnections;
    if (limitReached(vhostLimit, this.connectionsByVhost.get(vhost.name) ?? 0)) {
      refuse("vhost_connections", limitErrors.vhostConnections(vhost.name, user, vhostLimit));
    }
    const userLimit = this.users.users.get(user)?.limits?.maxConnections;
    if (limitReached(userLimit, this.connectionsByUser.get(user) ?? 0)) {
      refuse("user_connections", limitErrors.userConnections(user, userLimit));
    }
    bump(this.connectionsByVhost, vhost.name, 1);
    bump(this.connectionsByUser, user, 1);
  }

  connectionClosed(vhost: string, user: string): void {
    bump(this.connectionsByVhost, vhost, -1);
    bump(this.connectionsByUser, user, -1);
  }

  /** A channel opens for a user, under the user's max-channels limit. */
  admitChannel(user: string): void {
    const limit = this.users.users.get(user)?.limits?.maxChannels;
    if (limitReached(limit, this.channelsByUser.get(user) ?? 0)) {
      this.counters.refusedByLimit.user_channels++;
      throw limitErrors.userChannels(user, limit);
    }
    bump(this.channelsByUser, user, 1);
  }

  channelClosed(user: string): void {
    bump(this.channelsByUser, user, -1);
  }

  /** A resource crossed (or came back under) its limit: every connection re-evaluates its block. */
  setAlarm(resource: AlarmResource, on: boolean, detail: string): void {
    if (!this.alarms.set(resource, on)) return;
    if (on)
      this.log.error(
        { resource, detail },
        `${resource} resource limit alarm set on node ${this.settings.nodeName}: ${detail}; publishers are blocked`,
      );
    else
      this.log.warn(
        { resource, detail },
        `${resource} resource limit alarm cleared on node ${this.settings.nodeName}: ${detail}`,
      );
    for (const c of this.connections) c.alarmsChanged();
  }

  /**
   * Deletes a vhost with everything in it (the vhost.delete command): its connections
   * are closed with 320, its queues deleted, its policies and permissions dropped.
   */
  deleteVhost(name: string): boolean {
    return this.submitNow({ type: "vhost.delete", vhost: name }).result.deleted;
  }

  /**
   * Beyond RabbitMQ: unroutable messages published in this vhost go to the named
   * queue instead of vanishing (undefined turns capture off). The queue must exist.
   */
  setUnroutableCapture(vhostName: string, queue: string | undefined): void {
    this.submitNow({ type: "vhost.set-unroutable-capture", vhost: vhostName, queue });
  }

  newMessageId(): number {
    return this.nextMessageId++;
  }

  newConnectionId(): number {
    return this.nextConnectionId++;
  }

  peekNextQueueId(): number {
    return this.metadata.nextQueueId;
  }

  /** Queue ids the message store holds records of are never given out again. */
  raiseNextQueueId(atLeast: number): void {
    this.submitNow({ type: "queue-ids.raise", atLeast });
  }

  raiseNextMessageId(atLeast: number): void {
    this.nextMessageId = Math.max(this.nextMessageId, atLeast);
  }

  /**
   * Puts a routed message on its queues, each type's queues together (classic
   * queues write a persistent message once for all of them). The outcome says when
   * its confirm may go, or that a queue refused it.
   */
  enqueue(queues: readonly Queue[], message: Message, nowMs: number): EnqueueOutcome {
    return this.queueTypes.enqueue(queues, message, nowMs);
  }

  /** The settings of a queue: its arguments with the policies that match it. */
  queueSettings(def: QueueDefinition): QueueSettings {
    const queueType = queueTypeName(def);
    return resolveQueueSettings(
      def.arguments,
      this.policies.match("policy", def.vhost, "queue", def.name, queueType),
      this.policies.match("operator_policy", def.vhost, "queue", def.name, queueType),
    );
  }

  /** Stores a policy after checking it, and applies it to what it matches at once. */
  setPolicy(kind: PolicyKind, policy: Policy): void {
    this.submitNow({ type: "policy.set", kind, policy });
  }

  clearPolicy(kind: PolicyKind, vhost: string, name: string): boolean {
    return this.submitNow({ type: "policy.clear", kind, vhost, name }).result.cleared;
  }

  /**
   * Recomputes every queue's and exchange's settings in a vhost (a policy changed).
   * The first slice runs now; a vhost with many queues gets the rest on later turns
   * (matching 200 policies against 20,000 queues is seconds of work).
   */
  applyPolicies(vhostName: string): void {
    const vhost = this.vhosts.get(vhostName);
    if (!vhost) return;
    const chore = policyChore(this, vhost);
    if (!chore.step(POLICY_SLICE, this.clock())) this.chores.add(chore);
  }

  /**
   * An x-delayed-message exchange keeps a message until its x-delay passes. A
   * persistent message held by a durable exchange is stored (under the exchange's
   * store id), so it is safe (and confirmed) once fdatasync'ed, and survives a restart.
   */
  holdDelayed(exchange: Exchange, message: Message, dueAtMs: number): EnqueueOutcome {
    let ref: StoredRef | undefined;
    if (this.store && message.persistent && exchange.definition.durable) {
      ref = this.store.write(message, [exchange.storeId], true);
    }
    exchange.delayed!.hold(message, dueAtMs, ref);
    return ref ? afterSync(this.store!) : ACCEPTED;
  }

  /** Routes the delayed messages whose time has come, as new publishes to the exchange. */
  private releaseDelayed(vhost: VirtualHost, exchange: Exchange, nowMs: number): void {
    for (const held of exchange.delayed!.takeDue(nowMs)) {
      // A new id: in its queues it comes after what they hold now.
      const message = { ...held.message, id: this.newMessageId() };
      const queues = vhost.route(exchange, {
        routingKey: message.routingKey,
        headers: () => readHeaders(message.properties, message.summary),
      });
      if (queues.length > 0) this.enqueue(queues, message, nowMs);
      else {
        this.counters.messagesUnroutable++;
        exchange.unroutable++;
      }
      if (held.ref) this.store!.settle(exchange.storeId, held.message.id, held.ref);
    }
  }

  /** The runtime's clock tick: TTLs, retry delays, delayed messages, and x-expires. */
  tick(nowMs: number): void {
    for (const vhost of this.vhosts.values()) {
      for (const e of vhost.exchanges.values())
        if (e.delayed?.length) this.releaseDelayed(vhost, e, nowMs);
      for (const q of [...vhost.queues.values()]) {
        q.tick(nowMs);
        if (q.isExpired(nowMs) && this.expiresHere(vhost.name, q, nowMs)) {
          this.counters.queuesExpired++;
          this.log.info(
            { queue: q.name, vhost: vhost.name, expiresMs: q.settings.expiresMs },
            `queue '${q.name}' in vhost '${vhost.name}' expired: unused for ${q.settings.expiresMs} ms`,
          );
          vhost.removeQueue(q);
        }
      }
    }
  }

  /**
   * Whether this node deletes an expired queue now. In a cluster every node holds every
   * queue but only its home sees it used (consumers, declarations), so only the home
   * decides it expired; and its deletion, submitted without waiting, is not submitted again
   * until the metadata group has had its time to answer.
   */
  private expiresHere(vhost: string, q: Queue, nowMs: number): boolean {
    const home = this.metadata.vhosts.get(vhost)?.queues.get(q.name)?.home;
    if (home !== undefined && home !== this.settings.nodeName) return false;
    const since = this.expiring.get(q);
    if (since !== undefined && nowMs - since < EXPIRY_RESUBMIT_MS) return false;
    this.expiring.set(q, nowMs);
    return true;
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
    this.effects.withoutSaving(fn);
  }

  /** The definitions version that first held a queue: its declare-ok waits until that is saved. */
  queueDefinitionsVersion(vhost: string, queue: string): number {
    const meta = this.metadata.vhosts.get(vhost)?.queues.get(queue);
    return meta ? this.effects.queueVersion(meta) : 0;
  }

  /** Counts durable changes: compare it before and after an operation to see whether it made any. */
  get definitionsVersion(): number {
    return this.effects.definitionsVersion;
  }

  /**
   * A promise that settles once the definitions are on disk (never in a cluster: the
   * metadata group's commit made the change durable before it was applied here): with a version, up to that
   * change (saving again if its save failed); without one, the save scheduled or running
   * now. Undefined when there is nothing to wait for.
   */
  definitionsSaved(version?: number): Promise<void> | undefined {
    const saver = this.definitionsSaver;
    // In a cluster a change is durable once committed, which happened before it applied here.
    if (!saver || this.replicated) return undefined;
    return version === undefined ? saver.whenPendingSaved() : saver.whenSaved(version);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
