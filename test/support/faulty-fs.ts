import { nodeFs, type StoreFs } from "../../src/store/store-fs.js";

/** node:fs with switches that make operations fail as a sick or full disk makes them fail. */
export interface FaultyFs extends StoreFs {
  /** writev fails with this code after half of its first buffer reached the file (a real ENOSPC). */
  writeFault?: string;
  /** Space left: a writev past it is short, one with none left fails with ENOSPC. */
  spaceLeftBytes?: number;
  /** fdatasync (async) fails with this code. */
  syncFault?: string;
  /** open fails with this code (EMFILE, ENFILE); only opens whose flags start with `openFaultFlags`, when set. */
  openFault?: string;
  openFaultFlags?: string;
  /** read fails with this code. */
  readFault?: string;
  /** Descriptors open now, and the most that were open at once. */
  readonly openFds: Set<number>;
  maxOpenFds: number;
  writevCalls: number;
}

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

export function faultyFs(): FaultyFs {
  const f: FaultyFs = {
    ...nodeFs,
    openFds: new Set(),
    maxOpenFds: 0,
    writevCalls: 0,
    openSync(path, flags) {
      if (f.openFault && (!f.openFaultFlags || flags.startsWith(f.openFaultFlags)))
        throw errno(f.openFault, `too many open files, open '${path}'`);
      const fd = nodeFs.openSync(path, flags);
      f.openFds.add(fd);
      f.maxOpenFds = Math.max(f.maxOpenFds, f.openFds.size);
      return fd;
    },
    closeSync(fd) {
      f.openFds.delete(fd);
      nodeFs.closeSync(fd);
    },
    writevSync(fd, buffers, position) {
      f.writevCalls++;
      if (f.writeFault) {
        nodeFs.writevSync(fd, [buffers[0]!.subarray(0, buffers[0]!.length >> 1)], position);
        throw errno(f.writeFault, "no space left on device, write");
      }
      if (f.spaceLeftBytes !== undefined) {
        const all = Buffer.concat(buffers);
        const n = Math.min(all.length, f.spaceLeftBytes);
        if (n === 0) throw errno("ENOSPC", "no space left on device, write");
        f.spaceLeftBytes -= n;
        return nodeFs.writevSync(fd, [all.subarray(0, n)], position);
      }
      return nodeFs.writevSync(fd, buffers, position);
    },
    readSync(fd, buf, offset, length, position) {
      if (f.readFault) throw errno(f.readFault, "i/o error, read");
      return nodeFs.readSync(fd, buf, offset, length, position);
    },
    fdatasync(fd, cb) {
      if (f.syncFault) return cb(errno(f.syncFault, "i/o error, fdatasync"));
      nodeFs.fdatasync(fd, cb);
    },
  };
  return f;
}
