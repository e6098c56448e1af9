import { AmqpError } from "../../protocol/amqp-error.js";
import {
  clearPermission,
  clearTopicPermission,
  deleteUser,
  putUser,
  setPermission,
  setTopicPermission,
  setUserLimit,
} from "./access-commands.js";
import { addBinding, removeBindingCommand } from "./binding-commands.js";
import { Changes, Refused, unchanged } from "./changes.js";
import type { MetadataCommand, ResultOf, Results } from "./command-types.js";
import { type CommandOutcome, CommandRefusedError } from "./effects.js";
import { declareExchange, deleteExchange } from "./exchange-commands.js";
import type { MetadataState } from "./metadata-state.js";
import { clearPolicy, setPolicy } from "./policy-commands.js";
import { declareQueue, deleteQueue, dropOwnedQueues } from "./queue-commands.js";
import { restoreDefinitions } from "./restore-command.js";
import { addVhost, deleteVhost, setUnroutableCapture, setVhostLimit } from "./vhost-commands.js";

type Appliers = {
  [T in MetadataCommand["type"]]: (
    state: MetadataState,
    command: Extract<MetadataCommand, { type: T }>,
  ) => CommandOutcome<Results[T]>;
};

const APPLY: Appliers = {
  "vhost.add": addVhost,
  "vhost.delete": deleteVhost,
  "vhost.set-limit": setVhostLimit,
  "vhost.set-unroutable-capture": setUnroutableCapture,
  "user.put": putUser,
  "user.delete": deleteUser,
  "user.set-limit": setUserLimit,
  "permission.set": setPermission,
  "permission.clear": clearPermission,
  "topic-permission.set": setTopicPermission,
  "topic-permission.clear": clearTopicPermission,
  "policy.set": setPolicy,
  "policy.clear": clearPolicy,
  "exchange.declare": declareExchange,
  "exchange.delete": deleteExchange,
  "queue.declare": declareQueue,
  "queue.delete": deleteQueue,
  "queues.drop-owned": dropOwnedQueues,
  "binding.add": addBinding,
  "binding.remove": removeBindingCommand,
  "queue-ids.raise": (state, c) => {
    if (c.atLeast <= state.nextQueueId) return unchanged({ raised: false });
    state.nextQueueId = c.atLeast;
    const changes = new Changes();
    changes.persist();
    return changes.done({ raised: true });
  },
  "definitions.restore": restoreDefinitions,
  "definitions.save": () => {
    const changes = new Changes();
    changes.persist();
    return changes.done({});
  },
};

/**
 * The one place definitions change: validates a command against the state and, if
 * it is allowed, changes the state and returns what the node must do about it.
 * Deterministic: no clock, no randomness, no I/O, and nothing read but the state and
 * the command, so every node that applies the same commands in the same order holds
 * the same state and gives the same answers. A refused command changed nothing: each
 * command makes all its checks before its first change.
 */
export function applyCommand<C extends MetadataCommand>(
  state: MetadataState,
  command: C,
): CommandOutcome<ResultOf<C>> {
  // Own keys only: a command read from the wire may name anything.
  if (!Object.hasOwn(APPLY, command.type))
    return { ok: false, error: new CommandRefusedError(`unknown command '${command.type}'`) };
  const apply = APPLY[command.type] as (
    state: MetadataState,
    command: C,
  ) => CommandOutcome<ResultOf<C>>;
  try {
    return apply(state, command);
  } catch (e) {
    if (e instanceof Refused) return { ok: false, error: e.error, limit: e.limit };
    if (e instanceof AmqpError || e instanceof CommandRefusedError) return { ok: false, error: e };
    throw e;
  }
}
