import { join } from "node:path";
import type { TaggedJson } from "../protocol/field-table-json.js";
import { type DefinitionsFs, nodeDefinitionsFs } from "./definitions-file-fs.js";

type Args = Record<string, TaggedJson>;

export interface PolicyJson {
  vhost: string;
  name: string;
  pattern: string;
  applyTo: string;
  priority: number;
  definition: Record<string, unknown>;
}

/** Everything durable except messages, as Warren writes it to definitions.json. */
export interface DefinitionsSnapshot {
  readonly format: "warren-definitions-1";
  /** Queue ids are never reused, so a stale message record can never match a new queue. */
  readonly nextQueueId: number;
  readonly vhosts: {
    name: string;
    defaultQueueType?: string;
    unroutableQueue?: string;
    limits?: { maxConnections?: number; maxQueues?: number };
  }[];
  readonly policies?: PolicyJson[];
  readonly operatorPolicies?: PolicyJson[];
  readonly users: {
    name: string;
    passwordHash: string;
    hashingAlgorithm: string;
    tags: string[];
    limits?: { maxConnections?: number; maxChannels?: number };
  }[];
  readonly permissions: {
    user: string;
    vhost: string;
    configure: string;
    write: string;
    read: string;
  }[];
  /** RabbitMQ's topic_permissions (absent in files written before they existed). */
  readonly topicPermissions?: {
    user: string;
    vhost: string;
    exchange: string;
    write: string;
    read: string;
  }[];
  readonly exchanges: {
    vhost: string;
    name: string;
    type: string;
    durable: boolean;
    autoDelete: boolean;
    internal: boolean;
    arguments: Args;
    /** For x-delayed-message exchanges: the store id of the messages they hold. */
    storeId?: number;
  }[];
  readonly queues: {
    vhost: string;
    name: string;
    id: number;
    autoDelete: boolean;
    arguments: Args;
  }[];
  readonly bindings: {
    vhost: string;
    source: string;
    destination: string;
    destinationType: "queue" | "exchange";
    routingKey: string;
    arguments: Args;
  }[];
  /**
   * Queue ids whose persistent messages are in msgs/ although no definition named them
   * when the node started (stale or lost definitions). Their segments are kept until a
   * restored definitions file claims them or the operator discards them.
   */
  readonly unclaimedQueueIds?: number[];
}

export const DEFINITIONS_FILE = "definitions.json";
/** The previous definitions.json, kept by every save so a damaged or lost file has a fallback. */
export const DEFINITIONS_BACKUP = "definitions.json.bak";
const FORMAT = "warren-definitions-1";
const LISTS = ["vhosts", "users", "permissions", "exchanges", "queues", "bindings"] as const;

/** Definitions as loaded at start, and from which file. */
export interface LoadedDefinitions {
  readonly snapshot: DefinitionsSnapshot;
  readonly path: string;
  /** Set when definitions.json could not be used and the backup was. */
  readonly fallback?: {
    readonly badPath: string;
    /** Why definitions.json could not be used ("missing", "not valid JSON (...)"). */
    readonly problem: string;
    /** When the backup was written: changes made after it are not in it. */
    readonly backupMtimeMs: number;
  };
}

/** No definitions file can be used although one exists: starting fresh would be wrong. */
export class DefinitionsUnusableError extends Error {}

/** Whether definitions.json was there and good at start (so the first save may back it up). */
type MainState = "good" | "missing" | "damaged";

type Read =
  | { readonly kind: "ok"; readonly snapshot: DefinitionsSnapshot; readonly bytes: Buffer }
  | { readonly kind: "missing" }
  | { readonly kind: "bad"; readonly problem: string };

/**
 * Durable definitions (vhosts, users, permissions, durable exchanges, queues and
 * bindings) in one JSON file, replaced atomically on each change.
 *
 * A save writes definitions.json.tmp and fdatasyncs it, makes the current
 * definitions.json the backup (a hard link renamed over definitions.json.bak), renames
 * the new file over definitions.json and fsyncs the directory. Every step is a whole
 * file appearing under a name by rename, so at every instant definitions.json is
 * complete, and definitions.json.bak is the version before it (or older). Every step
 * is asynchronous: the node keeps serving while the disk works.
 */
export class DefinitionsStore {
  readonly path: string;
  readonly backupPath: string;
  private mainState: MainState = "missing";
  /** The bytes of definitions.json as last read or written. */
  private current: Buffer | undefined;
  private saving = false;
  private dirMade = false;

  constructor(
    private readonly dir: string,
    private readonly fs: DefinitionsFs = nodeDefinitionsFs,
  ) {
    this.path = join(dir, DEFINITIONS_FILE);
    this.backupPath = join(dir, DEFINITIONS_BACKUP);
  }

  /**
   * The definitions from definitions.json, or from the backup when definitions.json is
   * missing or damaged; undefined when neither exists (a first start). Throws a
   * DefinitionsUnusableError naming both files when files exist but none is usable.
   */
  load(): LoadedDefinitions | undefined {
    const main = this.read(this.path);
    this.mainState = main.kind === "ok" ? "good" : main.kind === "missing" ? "missing" : "damaged";
    if (main.kind === "ok") {
      this.current = main.bytes;
      return { snapshot: main.snapshot, path: this.path };
    }
    const backup = this.read(this.backupPath);
    if (backup.kind === "ok") {
      return {
        snapshot: backup.snapshot,
        path: this.backupPath,
        fallback: {
          badPath: this.path,
          problem: main.kind === "missing" ? "missing" : main.problem,
          backupMtimeMs: this.fs.mtimeMsSync(this.backupPath) ?? 0,
        },
      };
    }
    if (main.kind === "missing" && backup.kind === "missing") return undefined;
    const why = (r: Read) => (r.kind === "bad" ? r.problem : "missing");
    throw new DefinitionsUnusableError(
      `no usable definitions file: ${this.path}: ${why(main)}; ${this.backupPath}: ${why(backup)}. ` +
        `Restore ${DEFINITIONS_FILE} from a backup of the data directory and start again ` +
        `(the damaged file is left as it is; nothing was changed)`,
    );
  }

  /** Writes a new definitions.json, keeping the current one as the backup. One at a time. */
  async save(snapshot: DefinitionsSnapshot): Promise<void> {
    if (this.saving) throw new Error("DefinitionsStore.save: a save is already in progress");
    this.saving = true;
    try {
      await this.replace(Buffer.from(await snapshotJsonInSlices(snapshot)));
    } finally {
      this.saving = false;
    }
  }

  private async replace(data: Buffer): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const step = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const named = new Error(`could not save ${this.path} (${what}): ${err.message}`);
        (named as NodeJS.ErrnoException).code = err.code;
        throw named;
      }
    };
    if (!this.dirMade) {
      this.fs.mkdirSync(this.dir);
      this.dirMade = true;
    }
    await step(`writing ${tmp}`, () => this.fs.writeDurable(tmp, data));
    if (this.mainState === "good") {
      await step(`keeping the previous version as ${this.backupPath}`, () => this.backUp());
    } else if (this.mainState === "damaged") {
      // Keep the damaged file for a look, without letting it replace the good backup.
      await step(`moving the damaged ${DEFINITIONS_FILE} aside`, () =>
        this.fs.rename(this.path, `${this.path}.damaged`),
      );
    }
    await step(`renaming ${tmp}`, () => this.fs.rename(tmp, this.path));
    this.mainState = "good";
    this.current = data;
    await step(`syncing the directory ${this.dir}`, () => this.fs.syncDir(this.dir));
  }

  /** definitions.json becomes definitions.json.bak by a link and a rename: it never goes missing. */
  private async backUp(): Promise<void> {
    const linkTmp = `${this.backupPath}.tmp`;
    await this.fs.unlink(linkTmp);
    try {
      await this.fs.link(this.path, linkTmp);
    } catch (e) {
      // A file system without hard links (EPERM, ENOTSUP): write a copy instead.
      if (!this.current || (e as NodeJS.ErrnoException).code === "ENOENT") throw e;
      await this.fs.writeDurable(linkTmp, this.current);
    }
    await this.fs.rename(linkTmp, this.backupPath);
  }

  private read(path: string): Read {
    let bytes: Buffer | undefined;
    try {
      bytes = this.fs.readFileSync(path);
    } catch (e) {
      return { kind: "bad", problem: `could not read it: ${(e as Error).message}` };
    }
    if (bytes === undefined) return { kind: "missing" };
    try {
      return { kind: "ok", snapshot: parseDefinitions(bytes), bytes };
    } catch (e) {
      return { kind: "bad", problem: (e as Error).message };
    }
  }
}

/** Parses definitions.json, throwing a sentence that says what is wrong with it. */
export function parseDefinitions(bytes: Buffer): DefinitionsSnapshot {
  if (bytes.length === 0) throw new Error("the file is empty");
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new Error(`not valid JSON (${(e as Error).message}; ${bytes.length} bytes)`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("not a JSON object");
  }
  const s = parsed as Record<string, unknown>;
  if (s.format !== FORMAT) {
    throw new Error(`unknown format '${String(s.format)}' (expected '${FORMAT}')`);
  }
  if (typeof s.nextQueueId !== "number" || !Number.isInteger(s.nextQueueId) || s.nextQueueId < 1) {
    throw new Error(`nextQueueId is missing or not a positive integer`);
  }
  for (const key of LISTS) {
    if (!Array.isArray(s[key])) throw new Error(`'${key}' is missing or not a list`);
  }
  return parsed as DefinitionsSnapshot;
}

/** The JSON text of each exchange, queue and binding record, made once per record object. */
const recordTexts = new WeakMap<object, string>();

function recordText(record: object): string {
  let text = recordTexts.get(record);
  if (text === undefined) {
    text = JSON.stringify(record);
    recordTexts.set(record, text);
  }
  return text;
}

/** Records turned into text between two yields of the event loop. */
const RECORDS_PER_SLICE = 4000;

/**
 * definitions.json's text: the small sections indented, then exchanges, queues and
 * bindings one record a line. A record object is turned into text once and reused
 * by every later save (buildSnapshot hands out the same record object for the same
 * queue), and the big sections are joined a slice at a time with the event loop
 * yielded in between: a full JSON.stringify of 20,000 queues and bindings held it
 * for 100 ms at every save of an import. The snapshot's records never change, so
 * the text is the snapshot as it was when the save began.
 */
export async function snapshotJsonInSlices(snapshot: DefinitionsSnapshot): Promise<string> {
  const { exchanges, queues, bindings, ...small } = snapshot;
  const head = JSON.stringify(small, null, 1);
  const sections: string[] = [];
  for (const [name, records] of [
    ["exchanges", exchanges],
    ["queues", queues],
    ["bindings", bindings],
  ] as const) {
    const parts: string[] = [];
    for (let i = 0; i < records.length; i += RECORDS_PER_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      parts.push(
        records
          .slice(i, i + RECORDS_PER_SLICE)
          .map(recordText)
          .join(",\n"),
      );
    }
    sections.push(parts.length === 0 ? `"${name}": []` : `"${name}": [\n${parts.join(",\n")}\n]`);
  }
  return `${head.slice(0, -2)},\n${sections.join(",\n")}\n}\n`;
}
