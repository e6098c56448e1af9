import type { Message } from "../message/message.js";
import { channelError } from "../protocol/amqp-error.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import { allOf, type EnqueueOutcome } from "./enqueue-outcome.js";
import type { Queue, QueueCreation, QueueDefinition, QueueType, RemoteHome } from "./queue-type.js";

/** The type a declaration asks for: its x-queue-type, or classic (RabbitMQ 3.x's default). */
export function queueTypeName(def: QueueDefinition): string {
  const t = def.arguments.get("x-queue-type");
  return t?.type === "S" || t?.type === "x" ? t.value.toString() : "classic";
}

/** RabbitMQ's refusal of a queue type it does not know (or this node does not run). */
export function unsupportedQueueType(def: QueueDefinition, type: string) {
  return channelError(
    ReplyCode.PRECONDITION_FAILED,
    `invalid arg 'x-queue-type' for queue '${def.name}' in vhost '${def.vhost}': "unsupported queue type '${type}'"`,
  );
}

/**
 * The queue types one node runs, by x-queue-type name. Each broker has its own
 * (a simulated cluster runs several in one process, each type bound to its node).
 */
export class QueueTypes {
  private readonly types = new Map<string, QueueType>();

  register(type: QueueType): void {
    if (this.types.has(type.name)) throw new Error(`queue type '${type.name}' is registered twice`);
    this.types.set(type.name, type);
  }

  /** Takes a type back (its runtime stopped: stop_app, reset); only the instance registered. */
  unregister(type: QueueType): void {
    if (this.types.get(type.name) === type) this.types.delete(type.name);
  }

  get(name: string): QueueType | undefined {
    return this.types.get(name);
  }

  get names(): string[] {
    return [...this.types.keys()];
  }

  /** Builds a queue of the type its definition names; an unknown type is 406. */
  create(creation: QueueCreation): Queue {
    const name = queueTypeName(creation.definition);
    const type = this.types.get(name);
    if (!type) throw unsupportedQueueType(creation.definition, name);
    return type.create(creation);
  }

  /**
   * Puts a routed message on its queues. Queues of one type take it together (the
   * common case: every queue classic), so a type can share work between them; with
   * several types, one outcome covers all (refused if any refuses).
   */
  enqueue(queues: readonly Queue[], message: Message, nowMs: number): EnqueueOutcome {
    const first = queues[0]!;
    let oneGroup = true;
    for (let i = 1; i < queues.length && oneGroup; i++) {
      const q = queues[i]!;
      oneGroup = q.type === first.type && q.remote === first.remote;
    }
    if (oneGroup) return this.enqueueOfGroup(first, queues, message, nowMs);
    // Queues on other nodes go to their home together; the rest by type.
    const groups = new Map<RemoteHome | string, Queue[]>();
    for (const q of queues) {
      const key = q.remote ?? q.type;
      const list = groups.get(key);
      if (list) list.push(q);
      else groups.set(key, [q]);
    }
    const outcomes: EnqueueOutcome[] = [];
    for (const list of groups.values())
      outcomes.push(this.enqueueOfGroup(list[0]!, list, message, nowMs));
    return allOf(outcomes);
  }

  private enqueueOfGroup(
    first: Queue,
    queues: readonly Queue[],
    message: Message,
    nowMs: number,
  ): EnqueueOutcome {
    if (first.remote) return first.remote.enqueueAll(queues, message, nowMs);
    return this.enqueueOfType(first.type, queues, message, nowMs);
  }

  private enqueueOfType(
    name: string,
    queues: readonly Queue[],
    message: Message,
    nowMs: number,
  ): EnqueueOutcome {
    const type = this.types.get(name);
    if (type?.enqueueAll) return type.enqueueAll(queues, message, nowMs);
    if (queues.length === 1) return queues[0]!.enqueue(message, nowMs);
    return allOf(queues.map((q) => q.enqueue(message, nowMs)));
  }
}
