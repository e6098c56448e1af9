import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Bytes allocated on disk under a folder (st_blocks x 512, like du). */
export function diskUsageBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      total += st.isDirectory() ? diskUsageBytes(path) : st.blocks * 512;
    } catch {
      // vanished meanwhile
    }
  }
  return total;
}
