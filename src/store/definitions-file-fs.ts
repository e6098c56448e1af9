import fs from "node:fs";
import fsp from "node:fs/promises";

/**
 * The file operations of the definitions store. Loading happens once at start and
 * may block; saving happens while the node serves clients, so every step of it is
 * asynchronous (an fdatasync on the main thread stalls every connection for as long
 * as the disk takes). Tests substitute an implementation that fails on demand.
 */
export interface DefinitionsFs {
  mkdirSync(dir: string): void;
  /** The file's bytes, or undefined when it does not exist. */
  readFileSync(path: string): Buffer | undefined;
  /** Last modification time, or undefined when the file does not exist. */
  mtimeMsSync(path: string): number | undefined;
  /** Creates or truncates `path`, writes `data` and fdatasyncs it before resolving. */
  writeDurable(path: string, data: Buffer): Promise<void>;
  /** A second name for an existing file (a hard link). */
  link(existing: string, newPath: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing one is not an error. */
  unlink(path: string): Promise<void>;
  /** fsync the directory, so renames and links in it survive a power loss. */
  syncDir(dir: string): Promise<void>;
}

function missing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === "ENOENT";
}

export const nodeDefinitionsFs: DefinitionsFs = {
  mkdirSync: (dir) => {
    fs.mkdirSync(dir, { recursive: true });
  },
  readFileSync: (path) => {
    try {
      return fs.readFileSync(path);
    } catch (e) {
      if (missing(e)) return undefined;
      throw e;
    }
  },
  mtimeMsSync: (path) => {
    try {
      return fs.statSync(path).mtimeMs;
    } catch (e) {
      if (missing(e)) return undefined;
      throw e;
    }
  },
  writeDurable: async (path, data) => {
    const handle = await fsp.open(path, "w");
    try {
      await handle.writeFile(data);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  },
  link: (existing, newPath) => fsp.link(existing, newPath),
  rename: (from, to) => fsp.rename(from, to),
  unlink: async (path) => {
    try {
      await fsp.unlink(path);
    } catch (e) {
      if (!missing(e)) throw e;
    }
  },
  syncDir: async (dir) => {
    const handle = await fsp.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
