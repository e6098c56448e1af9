import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DefinitionsSnapshot } from "../../src/store/definitions-store.js";
import { HASHING_ALGORITHM, hashPassword } from "../../src/vhost/password-hash.js";

export interface SeedUser {
  readonly name: string;
  /** Undefined: a user with no password (it can log in only with EXTERNAL). */
  readonly password?: string;
  readonly tags?: string[];
  /** configure, write, read on vhost "/"; undefined: no access to the vhost. */
  readonly permission?: readonly [string, string, string];
  readonly topicPermissions?: readonly { exchange: string; write: string; read: string }[];
}

/**
 * A fresh data directory whose definitions.json holds vhost "/", guest (full access,
 * as on a first start) and the given users, so a Warren started on it has them.
 * Passwords are stored as RabbitMQ's salted SHA-256 hashes, as Warren writes them.
 */
export function seededDataDir(users: readonly SeedUser[]): string {
  const dataDir = mkdtempSync(join(tmpdir(), "warren-users-"));
  const all: SeedUser[] = [
    { name: "guest", password: "guest", tags: ["administrator"], permission: [".*", ".*", ".*"] },
    ...users,
  ];
  const snapshot: DefinitionsSnapshot = {
    format: "warren-definitions-1",
    nextQueueId: 1,
    vhosts: [{ name: "/" }],
    users: all.map((u) => ({
      name: u.name,
      passwordHash: u.password === undefined ? "" : hashPassword(u.password, randomBytes(4)),
      hashingAlgorithm: HASHING_ALGORITHM,
      tags: u.tags ?? [],
    })),
    permissions: all.flatMap((u) =>
      u.permission
        ? [
            {
              user: u.name,
              vhost: "/",
              configure: u.permission[0],
              write: u.permission[1],
              read: u.permission[2],
            },
          ]
        : [],
    ),
    topicPermissions: all.flatMap((u) =>
      (u.topicPermissions ?? []).map((t) => ({ user: u.name, vhost: "/", ...t })),
    ),
    exchanges: [],
    queues: [],
    bindings: [],
  };
  writeFileSync(join(dataDir, "definitions.json"), JSON.stringify(snapshot, null, 1));
  return dataDir;
}
