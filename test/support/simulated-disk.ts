import type { StoreFs } from "../../src/store/store-fs.js";

interface SimFile {
  /** What survives a power loss. */
  durable: Buffer;
  /** What the page cache holds (what reads see). */
  cached: Buffer;
  /** Whether the file's directory entry is durable (created, then the directory fsynced). */
  linked: boolean;
  /** Bumped by each change of the cached bytes; `durableVersion` is the one on disk. */
  version: number;
  durableVersion: number;
}

/**
 * A file system with a page cache that a power loss throws away: writes land in
 * the cache, fdatasync copies a file's cache to its durable bytes, and a new or
 * renamed file's name survives only after the directory is fsynced. `powerLoss()`
 * keeps exactly what was made durable. Used to prove that the stores' durability
 * callbacks never run before the data is truly durable.
 */
export class SimulatedDisk implements StoreFs {
  private files = new Map<string, SimFile>();
  private fds = new Map<number, string>();
  private nextFd = 100;
  /** Bumped by every power loss; work started before one never completes. */
  private generation = 0;
  /** Directory fsyncs pending on these paths. */
  private unlinked = new Set<string>();

  mkdirSync(): void {}

  readdirSync(dir: string): string[] {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    return [...this.files.keys()]
      .filter((p) => p.startsWith(prefix))
      .map((p) => p.slice(prefix.length));
  }

  existsSync(path: string): boolean {
    return this.files.has(path);
  }

  openSync(path: string, flags: string): number {
    if (!this.files.has(path) || flags.startsWith("w")) {
      this.files.set(path, {
        durable: Buffer.alloc(0),
        cached: Buffer.alloc(0),
        linked: this.files.get(path)?.linked ?? false,
        version: 0,
        durableVersion: 0,
      });
    }
    const fd = this.nextFd++;
    this.fds.set(fd, path);
    return fd;
  }

  closeSync(fd: number): void {
    this.fds.delete(fd);
  }

  private file(fd: number): SimFile {
    const path = this.fds.get(fd);
    const f = path ? this.files.get(path) : undefined;
    if (!f) throw Object.assign(new Error("EBADF"), { code: "EBADF" });
    return f;
  }

  fstatSize(fd: number): number {
    return this.file(fd).cached.length;
  }

  readSync(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
    const f = this.file(fd);
    return f.cached.copy(buf, offset, position, Math.min(position + length, f.cached.length));
  }

  writevSync(fd: number, buffers: Buffer[], position: number): number {
    const f = this.file(fd);
    const data = Buffer.concat(buffers);
    const size = Math.max(f.cached.length, position + data.length);
    const next = Buffer.alloc(size);
    f.cached.copy(next);
    data.copy(next, position);
    f.cached = next;
    f.version++;
    return data.length;
  }

  ftruncateSync(fd: number, length: number): void {
    const f = this.file(fd);
    f.cached = Buffer.from(f.cached.subarray(0, length));
    f.version++;
  }

  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    if (!this.fds.has(fd)) return; // the process that asked died in a power loss
    const f = this.file(fd);
    // The data reaches the disk later, asynchronously, as a real fdatasync.
    const snapshot = Buffer.from(f.cached);
    const version = f.version;
    const generation = this.generation;
    setImmediate(() => {
      if (generation !== this.generation) return;
      // A sync never takes back what a later one already made durable.
      if (version > f.durableVersion) {
        f.durable = snapshot;
        f.durableVersion = version;
      }
      cb(null);
    });
  }

  fdatasyncSync(fd: number): void {
    const f = this.file(fd);
    f.durable = Buffer.from(f.cached);
    f.durableVersion = f.version;
  }

  unlinkSync(path: string): void {
    this.files.delete(path);
    this.unlinked.add(path);
  }

  renameSync(from: string, to: string): void {
    const f = this.files.get(from);
    if (!f) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    this.files.delete(from);
    this.files.set(to, { ...f, linked: false });
  }

  readFileSync(path: string): Buffer {
    const f = this.files.get(path);
    if (!f) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    return Buffer.from(f.cached);
  }

  writeFileSync(path: string, data: Buffer | string): void {
    const buf = Buffer.from(data);
    this.files.set(path, {
      durable: Buffer.alloc(0),
      cached: buf,
      linked: false,
      version: 1,
      durableVersion: 0,
    });
  }

  fsyncDirSync(dir: string): void {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    for (const [p, f] of this.files) if (p.startsWith(prefix)) f.linked = true;
    for (const p of this.unlinked) if (p.startsWith(prefix)) this.unlinked.delete(p);
  }

  /** Power loss: the cache is gone; files whose names were never made durable vanish. */
  powerLoss(): void {
    this.generation++;
    for (const [p, f] of [...this.files]) {
      if (!f.linked) this.files.delete(p);
      else f.cached = Buffer.from(f.durable);
    }
    this.fds.clear();
  }
}
