import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../support/broker-process.js";

export interface CorpusEntry {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The recorded client sessions in test/fuzz/corpus/ (see record-corpus.ts). */
export function loadCorpus(): CorpusEntry[] {
  const dir = join(REPO_ROOT, "test/fuzz/corpus");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".amqp"))
    .sort()
    .map((f) => ({ name: f.replace(/\.amqp$/, ""), bytes: readFileSync(join(dir, f)) }));
}
