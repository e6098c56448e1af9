/**
 * A change a Raft log store stages until sync(): a group created, a write to a group's log,
 * a group dropped. Both stores stage these in call order; the file store turns each into one
 * WAL record.
 */
import type { GroupId } from "../raft/raft-group-set.js";
import type { Membership } from "../raft/types.js";
import type { RaftLogWrite } from "./raft-log-image.js";
import type { WalRecord } from "./raft-wal-codec.js";

export type StagedChange =
  | { readonly type: "create"; readonly groupId: GroupId; readonly membership: Membership }
  | { readonly type: "write"; readonly groupId: GroupId; readonly write: RaftLogWrite }
  | { readonly type: "drop"; readonly groupId: GroupId };

/** The WAL record of a change: a create is a `create` snapshot mark at index 0. */
export function walRecordOf(change: StagedChange): WalRecord {
  const { groupId } = change;
  switch (change.type) {
    case "create":
      return {
        type: "snapshot",
        groupId,
        mark: "create",
        meta: { index: 0, term: 0, membership: change.membership },
      };
    case "drop":
      return { type: "drop", groupId };
    case "write": {
      const { write } = change;
      switch (write.type) {
        case "entries":
          return { type: "entries", groupId, entries: write.entries };
        case "hardState":
          return { type: "hardState", groupId, hardState: write.hardState };
        case "install":
        case "compact":
          return { type: "snapshot", groupId, mark: write.type, meta: write.snapshot.meta };
      }
    }
  }
}
