/**
 * Group commit: many callers ask for durability, one flush serves them all. At most one flush
 * runs at a time; everyone who asks while it runs shares the next one, so a busy node does one
 * fdatasync per batch instead of one per caller (DESIGN.md §3.5). A failed flush fails every
 * later request too: after an I/O error nothing is known to be durable, so we stop.
 */
export class GroupCommit {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private failure: unknown = null;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once everything staged before this call is durable. */
  commit(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.running === null) {
      this.running = this.run();
      return this.running;
    }
    if (this.queued === null) {
      const previous = this.running;
      this.queued = previous.then(() => {
        this.queued = null;
        return this.commit();
      });
    }
    return this.queued;
  }

  private async run(): Promise<void> {
    try {
      await this.flush();
    } catch (error) {
      this.failure = error;
      throw error;
    } finally {
      this.running = null;
    }
  }
}
