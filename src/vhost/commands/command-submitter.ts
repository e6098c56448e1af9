import { applyCommand } from "./apply-command.js";
import type { MetadataCommand, ResultOf } from "./command-types.js";
import type { EffectsRunner } from "./effects-runner.js";
import type { MetadataState, QueueMeta } from "./metadata-state.js";

/** A command applied on this node, and what its effects did here. */
export interface Applied<R> {
  readonly result: R;
  /**
   * The definitions version the change is durable at (the caller's reply waits for
   * it); undefined when the command changed nothing durable. For queue.declare, the
   * version that first held the queue, so a redeclaration waits only for that.
   */
  readonly version: number | undefined;
  /** Ready messages of the queues the command deleted (queue.delete-ok's message count). */
  readonly messagesDropped: number;
}

export type Submitted<R> = Applied<R> | Promise<Applied<R>>;

/**
 * Where the AMQP handlers, the management API and definitions import send every
 * definitions change. On one node `LocalCommands` applies it at once, in the caller's
 * turn (a transient queue's declare-ok goes out in the same write as before). In a
 * cluster the same command is proposed to the metadata Raft group and the promise
 * settles once it is committed and applied here; a refusal throws (or rejects with)
 * the command's AmqpError or CommandRefusedError.
 */
export interface CommandSubmitter {
  submit<C extends MetadataCommand>(command: C): Submitted<ResultOf<C>>;
}

/** Runs `next` on the applied command: at once when it was applied at once, else when it is. */
export function whenApplied<R, T>(
  submitted: Submitted<R>,
  next: (applied: Applied<R>) => T,
): T | Promise<Awaited<T>> {
  return submitted instanceof Promise
    ? (submitted.then(next) as Promise<Awaited<T>>)
    : next(submitted);
}

/** One node: commands are applied to its state and their effects run, all now. */
export class LocalCommands implements CommandSubmitter {
  constructor(
    private readonly state: MetadataState,
    private readonly runner: EffectsRunner,
  ) {}

  submit<C extends MetadataCommand>(command: C): Applied<ResultOf<C>> {
    const outcome = applyCommand(this.state, command);
    if (!outcome.ok) {
      this.runner.refused(outcome.limit);
      throw outcome.error;
    }
    const report = this.runner.run(outcome.effects);
    const version =
      command.type === "queue.declare"
        ? this.runner.queueVersion((outcome.result as { queue: QueueMeta }).queue)
        : report.version;
    return { result: outcome.result, version, messagesDropped: report.messagesDropped };
  }
}
