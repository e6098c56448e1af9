import type { DefinitionsSnapshot } from "../store/definitions-store.js";

export interface DefinitionsSaverIo {
  /** The definitions as they are now (built when a save starts, so it holds every change so far). */
  build(): DefinitionsSnapshot | Promise<DefinitionsSnapshot>;
  /** Writes the snapshot durably; resolves (or returns) once it is on disk, rejects if it cannot be. */
  save(snapshot: DefinitionsSnapshot): void | Promise<void>;
  /** Runs `fn` later in this event-loop turn, so the changes of one turn share one save. */
  schedule(fn: () => void): void;
  /** A save failed (the caller logs it). */
  failed(error: Error): void;
}

interface Waiter {
  readonly version: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/**
 * Group commit for definitions.json. Every durable change bumps a version; one save
 * runs at a time and covers every change made before it started; changes made while
 * it runs are coalesced into the next one. A waiter for version v is answered by the
 * first save that covers v: resolved when it is on disk, rejected when it failed.
 */
export class DefinitionsSaver {
  private changedVersion = 0;
  private savedVersion = 0;
  private scheduled = false;
  private saving = false;
  private waiters: Waiter[] = [];

  constructor(private readonly io: DefinitionsSaverIo) {}

  /** The version of the latest change (compare before and after an operation). */
  get version(): number {
    return this.changedVersion;
  }

  /** Whether a save is scheduled or running. */
  get busy(): boolean {
    return this.scheduled || this.saving;
  }

  changed(): void {
    this.changedVersion++;
    this.kick();
  }

  /**
   * A promise that settles once the changes up to `version` are on disk. Undefined when
   * they are already. A version whose save failed is saved again now (the disk may be
   * back), so the caller gets an honest answer rather than the stale failure.
   */
  whenSaved(version: number): Promise<void> | undefined {
    if (this.savedVersion >= version) return undefined;
    this.kick();
    return new Promise((resolve, reject) => this.waiters.push({ version, resolve, reject }));
  }

  /** The save in progress or scheduled, if any (declare-ok waits for it). */
  whenPendingSaved(): Promise<void> | undefined {
    return this.busy ? this.whenSaved(this.changedVersion) : undefined;
  }

  private kick(): void {
    if (this.scheduled || this.saving) return;
    this.scheduled = true;
    this.io.schedule(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    this.saving = true;
    const version = this.changedVersion;
    let result: void | Promise<void>;
    try {
      const snapshot = this.io.build();
      result =
        snapshot instanceof Promise
          ? snapshot.then((built) => this.io.save(built))
          : this.io.save(snapshot);
    } catch (e) {
      this.finish(version, e as Error);
      return;
    }
    // A save that completes at once (tests, a node without files) is finished at once.
    if (result instanceof Promise) {
      result.then(
        () => this.finish(version, undefined),
        (e: Error) => this.finish(version, e),
      );
    } else this.finish(version, undefined);
  }

  private finish(version: number, error: Error | undefined): void {
    this.saving = false;
    if (error) this.io.failed(error);
    else this.savedVersion = Math.max(this.savedVersion, version);
    const covered = this.waiters.filter((w) => w.version <= version);
    this.waiters = this.waiters.filter((w) => w.version > version);
    for (const w of covered) {
      if (error) w.reject(error);
      else w.resolve();
    }
    // Changes made while this save ran go into the next one.
    if (this.changedVersion > version) this.kick();
  }
}
