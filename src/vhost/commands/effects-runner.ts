import type { Log } from "../../log.js";
import type { BrokerCounters } from "../broker-counters.js";
import type { DefinitionsSaver } from "../definitions-saver.js";
import type { LimitRefusal } from "../limits.js";
import type { RegisteredConnection } from "../registered-connection.js";
import type { VirtualHost } from "../virtual-host.js";
import type { Effect } from "./effects.js";
import type { QueueMeta, VhostMeta } from "./metadata-state.js";
import type { OwnerKeys } from "./owner-keys.js";

/** What the effects runner changes on its node: the live topology and its neighbours. */
export interface LiveNode {
  readonly vhosts: Map<string, VirtualHost>;
  readonly connections: Iterable<RegisteredConnection>;
  readonly counters: BrokerCounters;
  readonly log: Log;
  readonly owners: OwnerKeys;
  clock(): number;
  /** A live vhost over these definitions (its queues' hooks and listener come from the node). */
  newVirtualHost(meta: VhostMeta): VirtualHost;
  /** Re-resolves the settings of a vhost's queues and exchanges (now and in slices). */
  applyPolicies(vhost: string): void;
}

/** What running a command's effects did. */
export interface EffectReport {
  /** The definitions version of the save it asked for; undefined when it asked for none. */
  readonly version: number | undefined;
  /** Ready messages of the queues it dropped. */
  readonly messagesDropped: number;
}

/**
 * Carries out the effects of applied commands on one node: builds and takes down
 * the live vhosts, exchanges, queues and bindings (the topology the connections
 * route and consume through), closes connections, logs, and saves definitions.json
 * (the only place a save is asked for, and only when a command's effects say so).
 */
export class EffectsRunner {
  /** While definitions are being restored at start, they are not saved back. */
  private restoring = false;
  /** The definitions version that first held each queue (a redeclaration waits only for it). */
  private readonly queueVersions = new WeakMap<QueueMeta, number>();

  constructor(
    private readonly node: LiveNode,
    private readonly saver: DefinitionsSaver | undefined,
  ) {}

  get definitionsVersion(): number {
    return this.saver?.version ?? 0;
  }

  /** Runs `fn` without saving the definitions it changes (restoring them at start). */
  withoutSaving(fn: () => void): void {
    this.restoring = true;
    try {
      fn();
    } finally {
      this.restoring = false;
    }
  }

  /** The definitions version that first held this queue (0: saved long ago, or never durable). */
  queueVersion(queue: QueueMeta): number {
    return this.queueVersions.get(queue) ?? 0;
  }

  /** A command was refused by a limit: counted for status and metrics. */
  refused(limit: LimitRefusal | undefined): void {
    if (limit) this.node.counters.refusedByLimit[limit]++;
  }

  run(effects: readonly Effect[]): EffectReport {
    let version: number | undefined;
    let messagesDropped = 0;
    const created: QueueMeta[] = [];
    for (const e of effects) {
      if (e.kind === "persist") version = this.persist();
      else if (e.kind === "queue.drop")
        messagesDropped += this.node.vhosts.get(e.vhost)?.detachQueue(e.queue) ?? 0;
      else {
        if (e.kind === "queue.create" && !e.restored) created.push(e.queue);
        this.runOne(e);
      }
    }
    for (const q of created) this.queueVersions.set(q, version ?? this.definitionsVersion);
    return { version, messagesDropped };
  }

  private persist(): number | undefined {
    if (this.restoring || !this.saver) return undefined;
    this.saver.changed();
    return this.saver.version;
  }

  private runOne(e: Exclude<Effect, { kind: "persist" | "queue.drop" }>): void {
    const node = this.node;
    switch (e.kind) {
      case "log":
        node.log[e.level](e.fields, e.text);
        return;
      case "vhost.create":
        node.vhosts.set(e.vhost.name, node.newVirtualHost(e.vhost));
        return;
      case "vhost.drop":
        node.vhosts.delete(e.vhost);
        return;
      case "connections.close":
        for (const c of [...node.connections])
          if (c.vhost?.name === e.vhost) c.close(e.code, e.text);
        return;
      case "policies.apply":
        node.applyPolicies(e.vhost);
        return;
    }
    const vhost = node.vhosts.get(e.vhost);
    if (!vhost) return;
    switch (e.kind) {
      case "exchange.create":
        vhost.attachExchange(e.exchange);
        return;
      case "exchange.drop":
        vhost.detachExchange(e.exchange);
        return;
      case "queue.create": {
        const owner = e.queue.owner === undefined ? null : node.owners.ownerOf(e.queue.owner);
        vhost.attachQueue(e.queue, owner ?? null, node.clock());
        if (!e.restored) node.counters.queuesDeclared++;
        return;
      }
      case "binding.add":
        vhost.attachBinding(e.binding);
        return;
      case "binding.remove":
        vhost.detachBinding(e.binding);
        return;
    }
  }
}
