import { VHOST_LIMIT_NAMES } from "../limits.js";
import { Changes, operatorVhost, unchanged } from "./changes.js";
import type {
  Results,
  VhostAdd,
  VhostDelete,
  VhostSetLimit,
  VhostSetUnroutableCapture,
} from "./command-types.js";
import { type CommandOutcome, CommandRefusedError } from "./effects.js";
import { addPredeclaredExchanges } from "./exchange-commands.js";
import { BindingTable, type MetadataState, type VhostMeta } from "./metadata-state.js";
import { removeQueue } from "./topology-changes.js";

/** A new, empty vhost with its predeclared exchanges, and the effects that build it. */
export function newVhost(name: string, changes: Changes, defaultQueueType = "classic"): VhostMeta {
  const v: VhostMeta = {
    name,
    defaultQueueType,
    unroutableQueue: undefined,
    limits: {},
    exchanges: new Map(),
    queues: new Map(),
    bindings: new BindingTable(),
  };
  changes.push({ kind: "vhost.create", vhost: v });
  addPredeclaredExchanges(v, changes);
  return v;
}

/** The queue types a vhost's default may name (RabbitMQ's short names). */
export const DEFAULT_QUEUE_TYPES = ["classic", "quorum", "stream"] as const;

/**
 * Adds a vhost, or sets an existing one's default queue type. The default names the
 * type a queue.declare without x-queue-type gets (queue-commands.ts); an unknown
 * type is refused.
 */
export function addVhost(state: MetadataState, c: VhostAdd): CommandOutcome<Results["vhost.add"]> {
  const dqt = c.defaultQueueType;
  if (dqt !== undefined && !(DEFAULT_QUEUE_TYPES as readonly string[]).includes(dqt)) {
    throw new CommandRefusedError(
      `default queue type '${dqt}' is not one of ${DEFAULT_QUEUE_TYPES.join(", ")}`,
    );
  }
  const existing = state.vhosts.get(c.vhost);
  if (existing) {
    if (dqt === undefined || dqt === existing.defaultQueueType)
      return unchanged({ created: false });
    existing.defaultQueueType = dqt;
    const changes = new Changes();
    changes.log(`default queue type of vhost '${c.vhost}' is now ${dqt}`, {
      vhost: c.vhost,
      defaultQueueType: dqt,
    });
    changes.persist();
    return changes.done({ created: false });
  }
  const changes = new Changes();
  state.vhosts.set(c.vhost, newVhost(c.vhost, changes, dqt));
  changes.persist();
  return changes.done({ created: true });
}

/**
 * Deletes a vhost with everything in it: its connections are closed with 320
 * (RabbitMQ's text), its queues deleted (their stored messages released), its
 * policies and permissions dropped.
 */
export function deleteVhost(
  state: MetadataState,
  c: VhostDelete,
): CommandOutcome<Results["vhost.delete"]> {
  const v = state.vhosts.get(c.vhost);
  if (!v) return unchanged({ deleted: false });
  const changes = new Changes();
  changes.push({
    kind: "connections.close",
    vhost: c.vhost,
    code: 320,
    text: `CONNECTION_FORCED - vhost '${c.vhost}' is deleted`,
  });
  for (const q of [...v.queues.values()]) removeQueue(v, q, changes);
  state.vhosts.delete(c.vhost);
  state.policies.dropVhost(c.vhost);
  state.users.dropVhost(c.vhost);
  changes.push({ kind: "vhost.drop", vhost: c.vhost });
  changes.log(`deleted vhost '${c.vhost}'`, { vhost: c.vhost });
  changes.persist();
  return changes.done({ deleted: true });
}

export function setVhostLimit(
  state: MetadataState,
  c: VhostSetLimit,
): CommandOutcome<Results["vhost.set-limit"]> {
  const v = operatorVhost(state, c.vhost);
  if (!Object.hasOwn(VHOST_LIMIT_NAMES, c.limit))
    throw new CommandRefusedError(`unknown vhost limit '${c.limit}'`);
  const key = VHOST_LIMIT_NAMES[c.limit];
  const limits = { ...v.limits };
  if (c.value === undefined) delete limits[key];
  else limits[key] = c.value;
  v.limits = limits;
  const changes = new Changes();
  changes.persist();
  return changes.done({});
}

/**
 * Beyond RabbitMQ: unroutable messages published in this vhost go to the named
 * queue instead of vanishing (no queue turns capture off). The queue must exist.
 */
export function setUnroutableCapture(
  state: MetadataState,
  c: VhostSetUnroutableCapture,
): CommandOutcome<Results["vhost.set-unroutable-capture"]> {
  const v = operatorVhost(state, c.vhost);
  if (c.queue !== undefined && !v.queues.has(c.queue))
    throw new CommandRefusedError(`queue '${c.queue}' does not exist in vhost '${c.vhost}'`);
  v.unroutableQueue = c.queue;
  const changes = new Changes();
  changes.log(
    c.queue
      ? `unroutable messages in vhost '${c.vhost}' are captured in queue '${c.queue}'`
      : `unroutable capture off in vhost '${c.vhost}'`,
    { vhost: c.vhost, queue: c.queue },
  );
  changes.persist();
  return changes.done({});
}
