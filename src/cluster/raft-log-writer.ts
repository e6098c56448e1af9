/**
 * The part of a Raft log store the driver drives: stage writes, then make them durable and be
 * told when they are. A callback rather than a promise, so that the simulator can complete a
 * sync from its event queue within the same synchronous run (a promise would resolve only
 * after the whole simulation returned), and the runtime gets the store's group commit through
 * logWriterOf.
 */
import type { GroupId } from "../raft/index.js";
import type { RaftLogWrite } from "../store/raft-log-image.js";
import type { RaftLogStore } from "../store/raft-log-store.js";

/** Called once a sync finished: null when everything staged before it is durable. */
export type SyncCallback = (error: Error | null) => void;

export interface RaftLogWriter {
  /** Stages writes to a group's log, in order (RaftLogImage defines what each means). */
  write(groupId: GroupId, writes: readonly RaftLogWrite[]): void;
  /** Makes everything staged before this call durable, then calls done. */
  sync(done: SyncCallback): void;
}

/**
 * Drives a RaftLogStore (memory or file): writes are staged in the store, and every sync is
 * one of the store's group commits (one fdatasync for all groups, concurrent syncs shared).
 */
export function logWriterOf(store: RaftLogStore): RaftLogWriter {
  return {
    write: (groupId, writes) => store.write(groupId, writes),
    sync: (done) => {
      store.sync().then(
        () => done(null),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
      );
    },
  };
}
