import { MemoryLogDisk, MemoryRaftLogStore } from "../../src/store/memory-raft-log-store.js";
import { raftLogStoreContract } from "./raft-log-store-contract.js";

raftLogStoreContract("MemoryRaftLogStore", async () => {
  const disk = new MemoryLogDisk();
  return {
    open: async () => new MemoryRaftLogStore(disk),
    cleanup: async () => {},
  };
});
