import { join } from "node:path";
import type { TaggedJson } from "../protocol/field-table-json.js";
import { type StoreFs, writeFileAtomic } from "./store-fs.js";

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
}

const FILE = "definitions.json";

/**
 * Durable definitions (vhosts, users, permissions, durable exchanges, queues and
 * bindings) in one JSON file, replaced atomically on each change: written to a
 * temporary file, fdatasync'ed, renamed over the old one, directory fsync'ed.
 */
export class DefinitionsStore {
  constructor(
    private readonly dir: string,
    private readonly fs: StoreFs,
  ) {}

  load(): DefinitionsSnapshot | undefined {
    const path = join(this.dir, FILE);
    if (!this.fs.existsSync(path)) return undefined;
    const parsed = JSON.parse(this.fs.readFileSync(path).toString("utf8")) as DefinitionsSnapshot;
    if (parsed.format !== "warren-definitions-1") {
      throw new Error(`${path}: unknown format '${String(parsed.format)}'`);
    }
    return parsed;
  }

  save(snapshot: DefinitionsSnapshot): void {
    this.fs.mkdirSync(this.dir);
    writeFileAtomic(this.fs, this.dir, FILE, JSON.stringify(snapshot, null, 1));
  }
}
