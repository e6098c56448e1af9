import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileMessageStore } from "../../../src/store/file-message-store.js";
import { MemoryDisk, MemoryMessageStore } from "../../../src/store/memory-message-store.js";
import { nodeFs } from "../../../src/store/store-fs.js";
import {
  message,
  messageStoreContract,
  type StoreFixture,
} from "../../contract/message-store.contract.js";

function fileFixture(dir: string, segmentBytes = 4096): StoreFixture {
  const store = new FileMessageStore({ dir, fs: nodeFs, segmentBytes });
  return {
    store,
    restart: () => {
      store.close();
      return fileFixture(dir, segmentBytes);
    },
    dispose: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function memoryFixture(disk = new MemoryDisk()): StoreFixture {
  return {
    store: new MemoryMessageStore(disk),
    restart: () => memoryFixture(disk),
    dispose: () => {},
  };
}

messageStoreContract("FileMessageStore", () =>
  fileFixture(mkdtempSync(join(tmpdir(), "warren-store-"))),
);
messageStoreContract("MemoryMessageStore", () => memoryFixture());

test("segments are deleted once every message in them is settled", async () => {
  const dir = mkdtempSync(join(tmpdir(), "warren-store-"));
  const store = new FileMessageStore({ dir, fs: nodeFs, segmentBytes: 4096 });
  store.recover(new Set([1]));
  const refs = [];
  for (let i = 1; i <= 100; i++) refs.push(store.write(message(i, "x".repeat(500)), [1], true));
  store.flush();
  assert.ok(store.segmentNumbers().length > 5, "100 half-KiB messages span several 4 KiB segments");
  refs.forEach((ref, i) => store.settle(1, i + 1, ref));
  store.flush();
  assert.deepEqual(store.segmentNumbers().length <= 2, true, `left: ${store.segmentNumbers()}`);
  store.close();
  rmSync(dir, { recursive: true, force: true });
});
