import { MemoryMessageStore } from "../../src/store/memory-message-store.js";
import type { DurableCallback } from "../../src/store/message-store.js";

/** A memory store whose fsyncs complete when the test says (a later event-loop turn). */
export class HeldStore extends MemoryMessageStore {
  held: DurableCallback[] = [];
  override whenDurable(cb: DurableCallback): void {
    this.held.push(cb);
  }
  /** Completes every fsync waited on so far, failed with `err` when given. */
  releaseDurable(err?: Error): void {
    const held = this.held;
    this.held = [];
    for (const cb of held) cb(err);
  }
}
