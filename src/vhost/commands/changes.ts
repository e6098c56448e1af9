import { channelError } from "../../protocol/amqp-error.js";
import { ReplyCode } from "../../protocol/generated/constants.js";
import type { LimitRefusal } from "../limits.js";
import { type CommandOutcome, CommandRefusedError, type Effect, type Refusal } from "./effects.js";
import type { MetadataState, VhostMeta } from "./metadata-state.js";

/**
 * The effects one command collects while it changes the state. Whether to save is a
 * flag, so a command that changes many durable things still asks for one save, and
 * the save comes last, after the live topology it describes is built.
 */
export class Changes {
  private readonly list: Effect[] = [];
  private persisted = false;

  push(effect: Effect): void {
    this.list.push(effect);
  }

  persist(): void {
    this.persisted = true;
  }

  log(text: string, fields: Record<string, unknown>, level: "info" | "warn" = "info"): void {
    this.list.push({ kind: "log", level, fields, text });
  }

  done<R>(result: R): CommandOutcome<R> {
    const effects = this.persisted ? [...this.list, { kind: "persist" } as const] : this.list;
    return { ok: true, result, effects };
  }
}

/** A command that needs no change: the answer and no effects. */
export function unchanged<R>(result: R): CommandOutcome<R> {
  return { ok: true, result, effects: [] };
}

/**
 * Thrown by a command's checks, which all run before it changes anything, and turned
 * into a refused outcome by `applyCommand`.
 */
export class Refused extends Error {
  constructor(
    readonly error: Refusal,
    readonly limit?: LimitRefusal,
  ) {
    super(error.message);
  }
}

/** The vhost an operator command names; refused when it does not exist. */
export function operatorVhost(state: MetadataState, name: string): VhostMeta {
  const v = state.vhosts.get(name);
  if (!v) throw new CommandRefusedError(`vhost '${name}' does not exist`);
  return v;
}

/** The vhost a client's command runs in (its connection's; gone only if deleted meanwhile). */
export function clientVhost(state: MetadataState, name: string): VhostMeta {
  const v = state.vhosts.get(name);
  if (!v) throw channelError(ReplyCode.NOT_FOUND, `no vhost '${name}'`);
  return v;
}
