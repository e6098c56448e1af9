import type { AmqpError } from "../../protocol/amqp-error.js";
import type { LimitRefusal } from "../limits.js";
import type { BindingMeta, ExchangeMeta, QueueMeta, VhostMeta } from "./metadata-state.js";

/**
 * What applying a command asks of the node, in the order given: the live topology
 * to build or take down (the state already changed), the connections to close, the
 * lines to log, and whether the definitions must be saved. A node runs them with
 * its `EffectsRunner`; the state holds no object these touch.
 */
export type Effect =
  /** The definitions changed in a way definitions.json holds: save them (once per command). */
  | { readonly kind: "persist" }
  | {
      readonly kind: "log";
      readonly level: "info" | "warn";
      readonly fields: Readonly<Record<string, unknown>>;
      readonly text: string;
    }
  | { readonly kind: "vhost.create"; readonly vhost: VhostMeta }
  /** The vhost's live objects go; its queues were dropped by earlier effects. */
  | { readonly kind: "vhost.drop"; readonly vhost: string }
  /** Close the vhost's client connections (vhost deletion). */
  | {
      readonly kind: "connections.close";
      readonly vhost: string;
      readonly code: number;
      readonly text: string;
    }
  | { readonly kind: "exchange.create"; readonly vhost: string; readonly exchange: ExchangeMeta }
  | { readonly kind: "exchange.drop"; readonly vhost: string; readonly exchange: string }
  /**
   * Start the queue. `restored` when it comes back from definitions (at start): it
   * is not counted as a declaration.
   */
  | {
      readonly kind: "queue.create";
      readonly vhost: string;
      readonly queue: QueueMeta;
      readonly restored: boolean;
    }
  /**
   * Stop the queue: its consumers are cancelled (those whose clients asked for
   * consumer_cancel_notify get basic.cancel) and its messages let go. Consumers and
   * messages live with the queue, not in the definitions, so this one effect covers them.
   */
  | { readonly kind: "queue.drop"; readonly vhost: string; readonly queue: QueueMeta }
  | { readonly kind: "binding.add"; readonly vhost: string; readonly binding: BindingMeta }
  | { readonly kind: "binding.remove"; readonly vhost: string; readonly binding: BindingMeta }
  /** Policies of the vhost changed: re-resolve its queues' and exchanges' settings. */
  | { readonly kind: "policies.apply"; readonly vhost: string };

/**
 * Why a command was refused. AMQP rules refuse with the AmqpError a client sees
 * (RabbitMQ's code and text); operator commands with a CommandRefusedError, which the
 * management API answers with 400.
 */
export type Refusal = AmqpError | CommandRefusedError;

/** An operator command that the definitions do not allow (unknown vhost, invalid policy). */
export class CommandRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandRefusedError";
  }
}

/**
 * What `applyCommand` returns. A refused command changed nothing; `limit` names the
 * limit that refused it (the node counts refusals by limit).
 */
export type CommandOutcome<R> =
  | { readonly ok: true; readonly result: R; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly error: Refusal; readonly limit?: LimitRefusal };
