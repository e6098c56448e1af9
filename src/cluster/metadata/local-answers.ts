/**
 * Redeclarations answered from this node's own definitions, as RabbitMQ answers them from its
 * local copy of the metadata store: a queue.declare or exchange.declare naming an object that
 * already exists here changes nothing whatever it finds (equivalent: declare-ok; not: the
 * 405/406 the log would give), so it needs no log entry and no round trip to the leader. An
 * RPC client that declares its reply queue before every call, as oslo.messaging does, is
 * answered at once, even while the group elects a leader. Like every read in a cluster it
 * sees this node's state, which may trail the leader's by the changes still on their way.
 */
import { applyCommand } from "../../vhost/commands/apply-command.js";
import type { MetadataCommand, ResultOf } from "../../vhost/commands/command-types.js";
import type { CommandOutcome } from "../../vhost/commands/effects.js";
import type { MetadataState } from "../../vhost/commands/metadata-state.js";

/** The answer to a redeclaration of something that exists here; undefined for anything else. */
export function answerLocally<C extends MetadataCommand>(
  state: MetadataState,
  command: C,
): CommandOutcome<ResultOf<C>> | undefined {
  if (!isRedeclaration(state, command)) return undefined;
  const outcome = applyCommand(state, command);
  // The existing-object paths of declareQueue and declareExchange change nothing.
  if (outcome.ok && outcome.effects.length > 0)
    throw new Error(`${command.type} of an existing object asked for effects`);
  return outcome;
}

function isRedeclaration(state: MetadataState, command: MetadataCommand): boolean {
  const vhost = "vhost" in command ? state.vhosts.get(command.vhost) : undefined;
  if (vhost === undefined) return false;
  if (command.type === "queue.declare") return vhost.queues.has(command.queue);
  if (command.type === "exchange.declare") return vhost.exchanges.has(command.exchange);
  return false;
}
