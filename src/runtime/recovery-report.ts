import { join } from "node:path";
import type { Log } from "../log.js";
import type { Queue } from "../queue/queue-type.js";
import type { LoadedDefinitions } from "../store/definitions-store.js";
import type { StoreRecovery } from "../store/message-store.js";

/**
 * What a node says at start about its data directory: the recovery summary, damage found in
 * the message log, a definitions file replaced by its backup, messages no definition names,
 * and why it refuses to start without definitions. Each line names the files and what to do.
 */
export interface RecoveryReporting {
  readonly log: Log;
  readonly dataDir: string;
  readonly definitionsPath: string;
  readonly definitionsBackupPath: string;
}

export function logRecovery(
  node: RecoveryReporting,
  recovery: StoreRecovery,
  queues: number,
  exchanges: number,
): void {
  const r = recovery.report;
  const { damaged } = r;
  node.log.info(
    {
      segments: r.segments,
      records: r.records,
      messages: r.messages,
      durationMs: r.durationMs,
      truncatedBytes: r.truncatedBytes,
      corruptSegments: r.corruptSegments,
      skippedBytes: r.skippedBytes,
      queues,
      exchanges,
    },
    `recovered ${queues} durable queues with ${r.messages} messages from ${r.segments} segments ` +
      `(${r.records} records) in ${r.durationMs} ms; truncated ${r.truncatedBytes} bytes of torn writes` +
      (damaged.length ? `; skipped ${damaged.length} damaged records (see the error above)` : ""),
  );
}

/**
 * Damage found in the message log at start, at error level: how much was
 * skipped, where, and which queues lost what (as far as the damaged records
 * still tell). The same facts are in /metrics and `warrenctl doctor`.
 */
export function reportDamage(
  node: RecoveryReporting,
  r: StoreRecovery["report"],
  durable: Map<number, Queue>,
): void {
  if (r.damaged.length === 0) return;
  const name = (id: number) => {
    const q = durable.get(id);
    return q ? `'${q.name}' in vhost '${q.definition.vhost}'` : `store id ${id} (no such queue)`;
  };
  const lost = [...r.lostByQueue].map(([id, n]) => `${n} from queue ${name(id)}`);
  node.log.error(
    {
      corruptSegments: r.corruptSegments,
      damagedRecords: r.damaged.length,
      skippedBytes: r.skippedBytes,
      lostByQueue: Object.fromEntries([...r.lostByQueue].map(([id, n]) => [name(id), n])),
      unattributed: r.unattributed,
      damaged: r.damaged.slice(0, 20).map((d) => ({
        segment: d.segment,
        offset: d.offset,
        bytes: d.bytes,
      })),
    },
    `message store damage: skipped ${r.damaged.length} damaged records (${r.skippedBytes} bytes) in segments ` +
      `${r.corruptSegments.join(", ")}; the records around them were recovered. Messages lost: ` +
      `${lost.length ? lost.join(", ") : "none that a queue still held"}` +
      (r.unattributed
        ? `; ${r.unattributed} damaged records could not be read enough to tell their queue (any durable queue may have lost a message)`
        : "") +
      ". Check the disk (dmesg, smartctl) and see warrenctl doctor",
  );
}

export function logFallback(node: RecoveryReporting, loaded: LoadedDefinitions): void {
  const f = loaded.fallback!;
  const damaged = f.problem !== "missing";
  node.log.error(
    {
      file: f.badPath,
      problem: f.problem,
      backup: loaded.path,
      backupWrittenAt: iso(f.backupMtimeMs),
    },
    `${f.badPath} could not be used (${f.problem}); started from the backup ${loaded.path} ` +
      `written at ${iso(f.backupMtimeMs)}: changes to users, vhosts, permissions, policies, ` +
      `exchanges, queues or bindings made after that time may be missing` +
      (damaged ? `; the damaged file is kept as ${f.badPath}.damaged` : ""),
  );
}

export function logUnclaimed(
  node: RecoveryReporting,

  recovery: StoreRecovery,
  loaded: LoadedDefinitions | undefined,
  discard: boolean,
): void {
  const u = recovery.unclaimed;
  if (u.messages === 0) return;
  const what =
    `${u.messages} persistent messages of queue ids ${u.queueIds.join(", ")} ` +
    `in segments ${u.segments.join(", ")} of ${join(node.dataDir, "msgs")}`;
  const source = loaded ? loaded.path : "the definitions";
  if (discard) {
    node.log.warn(
      { unclaimed: u },
      `discarding ${what}: no definition in ${source} names those queues (--discard-unclaimed-messages)`,
    );
    return;
  }
  node.log.error(
    { unclaimed: u, definitions: loaded?.path },
    `kept ${what}: ${source} does not name those queues, so it is older than the messages ` +
      "(restored from an old backup?). They are kept on disk, not deleted and not delivered. " +
      `To get them back, stop the node and restore the ${node.definitionsPath} that names ` +
      "those queues; to drop them deliberately, start once with --discard-unclaimed-messages",
  );
}

export function noDefinitionsMessage(node: RecoveryReporting, recovery: StoreRecovery): string {
  const u = recovery.unclaimed;
  const r = recovery.report;
  const msgs = join(node.dataDir, "msgs");
  return (
    `${msgs} holds ${u.messages} persistent messages (in ${u.segments.length} of ${r.segments} ` +
    `segment files, ${r.records} records) but there is no definitions file ` +
    `(${node.definitionsPath} and ${node.definitionsBackupPath} are both missing), so nothing ` +
    "says which queues they belong to; starting as a fresh node would delete them. Nothing was " +
    `deleted. To keep them: restore definitions.json or definitions.json.bak from a backup into ` +
    `${node.dataDir} and start again. To start empty deliberately: move ${msgs} away ` +
    "(or start once with --discard-unclaimed-messages), start, and import your definitions " +
    "export (warrenctl import_definitions FILE) to recreate users, vhosts and queues"
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
