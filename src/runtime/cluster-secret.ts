import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/**
 * The secret every node of a cluster presents to the others: RabbitMQ's Erlang cookie.
 * Given by the operator (--cluster-secret, WARREN_CLUSTER_SECRET) or kept in the data
 * directory's .warren-cookie, which the first start creates. As Erlang does with
 * .erlang.cookie, a file others can read is refused rather than used, and an operator's
 * file is never replaced: an empty or unreadable one stops the start with what to do.
 * The secret itself never goes into a log line or an error message.
 */

export const COOKIE_FILE = ".warren-cookie";
/** Random bytes in a created secret (Erlang's own cookies are 20 letters; more costs nothing). */
export const CREATED_SECRET_BYTES = 32;
// A cookie is a short line; a file far bigger is not one (a wrong file copied in).
const MAX_SECRET_BYTES = 4096;

export interface ClusterSecret {
  readonly value: string;
  /** Where it came from, for the log: the flag, the variable, or the file's path. */
  readonly source: string;
  /** Whether this start created the file. */
  readonly created: boolean;
}

/** The cookie file cannot be used; the message says why and what to do. */
export class ClusterSecretError extends Error {}

/**
 * The node's secret: the given one, else the data dir's cookie file, created (mode 0600,
 * 32 random bytes as base64url) when there is none. Synchronous: one small file, once,
 * at start.
 */
export function loadClusterSecret(
  dataDir: string,
  given?: { readonly value: string; readonly source: string },
): ClusterSecret {
  if (given) return { value: given.value, source: given.source, created: false };
  const path = join(dataDir, COOKIE_FILE);
  const created = createCookieFile(path);
  if (created !== undefined) return { value: created, source: path, created: true };
  return { value: readCookieFile(path), source: path, created: false };
}

/** The new secret, or undefined when the file exists already (it is never overwritten). */
function createCookieFile(path: string): string | undefined {
  let fd: number;
  try {
    // O_EXCL: another start, or the operator, may have put one there; theirs stands.
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return undefined;
    throw new ClusterSecretError(
      `cannot create the cluster secret file ${path} (${code ?? (e as Error).message}); ` +
        "check that the data directory is writable by this user and has space, or give the secret with --cluster-secret",
    );
  }
  const secret = randomBytes(CREATED_SECRET_BYTES).toString("base64url");
  let failure: unknown;
  try {
    // The umask cannot widen 0600, but an odd one could narrow it to unreadable.
    fchmodSync(fd, 0o600);
    writeSync(fd, `${secret}\n`);
    fsyncSync(fd);
  } catch (e) {
    failure = e;
  }
  closeSync(fd);
  if (failure !== undefined) {
    // The file is this start's own, half written: gone, the next start makes it again.
    rmSync(path, { force: true });
    const code = (failure as NodeJS.ErrnoException).code ?? (failure as Error).message;
    throw new ClusterSecretError(
      `cannot write the cluster secret file ${path} (${code}); ` +
        "free space or fix the disk under the data directory and start again",
    );
  }
  return secret;
}

function readCookieFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ClusterSecretError(
      `cannot read the cluster secret file ${path} (${code ?? (e as Error).message}); ` +
        `it must be a file this user owns and can read (chown it to this user, chmod 600 ${path})`,
    );
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new ClusterSecretError(`the cluster secret file ${path} is not a regular file`);
    }
    if ((stat.mode & 0o077) !== 0) {
      // Erlang: "Cookie file ~/.erlang.cookie must be accessible by owner only".
      throw new ClusterSecretError(
        `Cookie file ${path} must be accessible by owner only (its mode is ` +
          `${(stat.mode & 0o777).toString(8).padStart(4, "0")}); run chmod 600 ${path} and start again`,
      );
    }
    if (stat.size > MAX_SECRET_BYTES) {
      throw new ClusterSecretError(
        `the cluster secret file ${path} holds ${stat.size} bytes, more than a secret ` +
          `(at most ${MAX_SECRET_BYTES}); put the cluster's secret in it, on one line`,
      );
    }
    const buffer = Buffer.alloc(stat.size);
    const n = stat.size === 0 ? 0 : readSync(fd, buffer, 0, stat.size, 0);
    // A trailing newline (echo secret > file) is not part of the secret.
    const value = buffer.subarray(0, n).toString("utf8").trim();
    if (value === "") {
      throw new ClusterSecretError(
        `the cluster secret file ${path} is empty; Warren does not replace it. Copy the ` +
          `cluster's secret into it from another node's ${COOKIE_FILE} (or delete it to have ` +
          "a new one made, for a new cluster), then start again",
      );
    }
    return value;
  } catch (e) {
    if (e instanceof ClusterSecretError) throw e;
    throw new ClusterSecretError(
      `cannot read the cluster secret file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  } finally {
    closeSync(fd);
  }
}
