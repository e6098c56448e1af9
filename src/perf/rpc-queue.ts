import type { Method, MethodName } from "../protocol/generated/methods.js";

/** An error the client reports: a closed connection or channel, with the broker's reply code. */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly replyCode?: number,
  ) {
    super(message);
    this.name = "ClientError";
  }
}

interface Waiter {
  readonly name: MethodName;
  readonly resolve: (m: Method) => void;
  readonly reject: (e: Error) => void;
}

/**
 * The replies a connection or channel waits for, in order: a broker answers
 * synchronous methods on one channel in the order they were sent (AMQP 0-9-1 §2.3.5.2),
 * so each reply settles the oldest waiter.
 */
export class RpcQueue {
  private readonly waiters: Waiter[] = [];
  private failure: Error | undefined;

  wait(name: MethodName): Promise<Method> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ name, resolve, reject }));
  }

  /** Settles the oldest waiter with a reply; false when nobody waited for this method. */
  deliver(method: Method): boolean {
    const head = this.waiters[0];
    if (!head) return false;
    this.waiters.shift();
    if (head.name !== method.name) {
      head.reject(new ClientError(`expected ${head.name}, got ${method.name}`));
      return true;
    }
    head.resolve(method);
    return true;
  }

  failAll(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}
