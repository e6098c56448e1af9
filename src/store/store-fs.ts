import fs from "node:fs";

/**
 * The file operations the stores use. The real one is node:fs; tests substitute
 * one that fails on demand (ENOSPC, EIO) to prove a write error never corrupts
 * the store or crashes the broker.
 */
export interface StoreFs {
  mkdirSync(path: string): void;
  readdirSync(path: string): string[];
  existsSync(path: string): boolean;
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  fstatSize(fd: number): number;
  readSync(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  writevSync(fd: number, buffers: Buffer[], position: number): number;
  ftruncateSync(fd: number, length: number): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  fdatasyncSync(fd: number): void;
  unlinkSync(path: string): void;
  renameSync(from: string, to: string): void;
  readFileSync(path: string): Buffer;
  writeFileSync(path: string, data: Buffer | string): void;
  /** fsync a directory, so file creations, renames and removals in it are durable. */
  fsyncDirSync(path: string): void;
}

export const nodeFs: StoreFs = {
  mkdirSync: (p) => {
    fs.mkdirSync(p, { recursive: true });
  },
  readdirSync: (p) => fs.readdirSync(p),
  existsSync: (p) => fs.existsSync(p),
  openSync: (p, flags) => fs.openSync(p, flags),
  closeSync: (fd) => fs.closeSync(fd),
  fstatSize: (fd) => fs.fstatSync(fd).size,
  readSync: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fdatasync: (fd, cb) => fs.fdatasync(fd, cb),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  unlinkSync: (p) => fs.unlinkSync(p),
  renameSync: (a, b) => fs.renameSync(a, b),
  readFileSync: (p) => fs.readFileSync(p),
  writeFileSync: (p, data) => fs.writeFileSync(p, data),
  fsyncDirSync: (p) => {
    const fd = fs.openSync(p, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
};

/** Writes a small file atomically: temp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(
  sfs: StoreFs,
  dir: string,
  name: string,
  data: Buffer | string,
): void {
  const tmp = `${dir}/${name}.tmp`;
  const fd = sfs.openSync(tmp, "w");
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    sfs.writevSync(fd, [buf], 0);
    sfs.fdatasyncSync(fd);
  } finally {
    sfs.closeSync(fd);
  }
  sfs.renameSync(tmp, `${dir}/${name}`);
  sfs.fsyncDirSync(dir);
}
