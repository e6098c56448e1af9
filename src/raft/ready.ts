/**
 * The batch of effects a RaftMachine hands to its runtime. The runtime must carry a Ready out
 * in this order, then call advance(ready) before asking for the next one:
 *
 *   1. snapshot    - install: store it and discard the whole log before it;
 *   2. compaction  - a local snapshot: store it; the log up to it may be discarded;
 *   3. entries     - append, overwriting any stored entries from entries[0].index on;
 *   4. hardState   - store term, vote and commit index;
 *   5. if mustSync, make 1-4 durable (fdatasync): a vote or an acknowledgement sent before
 *      its state is durable can be forgotten in a crash, and Raft's proofs assume it is not;
 *   6. messages    - send them (any order, any transport; loss is tolerated);
 *   7. snapshot    - if present, restore the state machine from it;
 *   8. committed   - apply in index order.
 */
import type { RaftMessage } from "./messages.js";
import type { HardState, LogEntry, Snapshot } from "./types.js";

export interface Ready {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly compaction: Snapshot | null;
  readonly entries: readonly LogEntry[];
  readonly mustSync: boolean;
  readonly messages: readonly RaftMessage[];
  readonly committed: readonly LogEntry[];
}

export function isEmptyReady(ready: Ready): boolean {
  return (
    ready.hardState === null &&
    ready.snapshot === null &&
    ready.compaction === null &&
    ready.entries.length === 0 &&
    ready.messages.length === 0 &&
    ready.committed.length === 0
  );
}
