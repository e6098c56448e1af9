import fs from "node:fs";
import net from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";

/** The file that names the process holding the lock (the lock itself is a socket). */
export const LOCK_OWNER_FILE = "warren.lock.json";

/** Who holds a data directory, as far as it is known. */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
  /** Filled in once the listeners are up. */
  readonly amqp?: string[];
  readonly http?: string[];
}

/** Another process holds the data directory. */
export class DataDirLockedError extends Error {
  constructor(
    message: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(message);
  }
}

/** How long to wait for the holder to say who it is. */
const ASK_TIMEOUT_MS = 1000;

/**
 * An exclusive lock on a data directory that dies with the process, so a kill -9
 * needs no cleanup. Node has no flock(2); on Linux a Unix socket bound in the
 * abstract namespace does the job: the name is derived from the directory's device
 * and inode numbers, a second bind fails with EADDRINUSE while the holder lives, and
 * the kernel frees it when the holder's last descriptor closes, however it dies.
 * The holder answers a connection to the socket with who it is; warren.lock.json in
 * the directory says the same for people (deleting it unlocks nothing).
 *
 * Limits: the abstract namespace belongs to a network namespace, so two containers
 * with their own network namespaces sharing one volume, or two hosts sharing a
 * directory over NFS, do not see each other's lock.
 */
export class DataDirLock {
  private owner: LockOwner;

  private constructor(
    readonly dataDir: string,
    private readonly server: net.Server | undefined,
    readonly socketName: string | undefined,
  ) {
    this.owner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  }

  /** Takes the lock, or throws DataDirLockedError naming the holder. Creates nothing but the socket. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    if (process.platform !== "linux") {
      // Abstract sockets exist only on Linux; elsewhere the owner file is all there is.
      const lock = new DataDirLock(dataDir, undefined, undefined);
      lock.writeOwnerFile();
      return lock;
    }
    const st = fs.statSync(dataDir, { bigint: true });
    const name = `\0warren-lock-${st.dev}-${st.ino}`;
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(name, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      server.close();
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      const owner = (await askOwner(name)) ?? readOwnerFile(dataDir);
      throw new DataDirLockedError(lockedMessage(dataDir, owner), owner);
    }
    server.unref();
    const lock = new DataDirLock(dataDir, server, name);
    server.on("connection", (socket) => {
      socket.on("error", () => {});
      socket.end(JSON.stringify(lock.owner));
    });
    lock.writeOwnerFile();
    return lock;
  }

  /** Adds what is known once the node listens (ports) to what a refused process is told. */
  describe(extra: { amqp?: string[]; http?: string[] }): void {
    this.owner = { ...this.owner, ...extra };
    this.writeOwnerFile();
  }

  async release(): Promise<void> {
    try {
      const onDisk = readOwnerFile(this.dataDir);
      if (onDisk?.pid === process.pid) fs.unlinkSync(join(this.dataDir, LOCK_OWNER_FILE));
    } catch {
      // The owner file is only informative.
    }
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private writeOwnerFile(): void {
    const path = join(this.dataDir, LOCK_OWNER_FILE);
    fs.writeFileSync(`${path}.tmp`, `${JSON.stringify(this.owner)}\n`);
    fs.renameSync(`${path}.tmp`, path);
  }
}

function lockedMessage(dataDir: string, owner: LockOwner | undefined): string {
  const who = owner
    ? [
        `pid ${owner.pid}`,
        owner.hostname !== hostname() ? `on ${owner.hostname}` : undefined,
        owner.amqp?.length ? `AMQP ${owner.amqp.join(", ")}` : undefined,
        owner.http?.length ? `HTTP ${owner.http.join(", ")}` : undefined,
        `started ${owner.startedAt}`,
      ]
        .filter(Boolean)
        .join(", ")
    : `pid unknown: ${join(dataDir, LOCK_OWNER_FILE)} is missing`;
  return (
    `data directory ${dataDir} is in use by another Warren process (${who}). ` +
    "Two nodes on one data directory would corrupt each other's messages and definitions. " +
    "Stop the other process first, or give this one its own --data-dir"
  );
}

/** Connects to the holder's socket and reads who it is (undefined if it does not answer). */
function askOwner(name: string): Promise<LockOwner | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const socket = net.connect(name);
    const done = (owner: LockOwner | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(owner);
    };
    const timer = setTimeout(() => done(undefined), ASK_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => done(parseOwner(text)));
    socket.on("error", () => done(undefined));
  });
}

function readOwnerFile(dataDir: string): LockOwner | undefined {
  try {
    return parseOwner(fs.readFileSync(join(dataDir, LOCK_OWNER_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as LockOwner;
    return typeof o.pid === "number" ? o : undefined;
  } catch {
    return undefined;
  }
}
