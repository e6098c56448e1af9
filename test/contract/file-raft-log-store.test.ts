import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileRaftLogStore } from "../../src/store/file-raft-log-store.js";
import { raftLogStoreContract } from "./raft-log-store-contract.js";

raftLogStoreContract(
  "FileRaftLogStore (4 KiB segments, so rolling and deletion happen)",
  async () => {
    const directory = await mkdtemp(join(tmpdir(), "warren-raft-log-"));
    return {
      open: () => FileRaftLogStore.open(directory, { segmentSizeBytes: 4096 }),
      cleanup: () => rm(directory, { recursive: true, force: true }),
    };
  },
);
