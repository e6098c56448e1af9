import type { StoreFs } from "./store-fs.js";

/**
 * Read-only descriptors of finished segments, opened on demand and kept in a small
 * least-recently-used cache, so a log of hundreds of segments holds a bounded
 * number of files open (the resource monitor reserves exactly `capacity` of them;
 * RabbitMQ's file_handle_cache bounds its open files the same way). Only
 * positioned synchronous reads use these descriptors, so closing one on eviction
 * never races an operation in flight.
 */
export class ReadHandles {
  /** Segment number to descriptor; Map order is least recently used first. */
  private readonly handles = new Map<number, number>();

  constructor(
    private readonly fs: StoreFs,
    readonly capacity: number,
  ) {
    if (capacity < 1) throw new RangeError("the read handle cache needs at least one handle");
  }

  get size(): number {
    return this.handles.size;
  }

  /** The segment's descriptor, opened now if needed (throws EMFILE/ENFILE as the open does). */
  get(segment: number, path: string): number {
    const cached = this.handles.get(segment);
    if (cached !== undefined) {
      this.handles.delete(segment);
      this.handles.set(segment, cached);
      return cached;
    }
    // Close first: under descriptor pressure the handle we give back is the one we need.
    if (this.handles.size >= this.capacity) this.close(this.handles.keys().next().value!);
    const fd = this.fs.openSync(path, "r");
    this.handles.set(segment, fd);
    return fd;
  }

  close(segment: number): void {
    const fd = this.handles.get(segment);
    if (fd === undefined) return;
    this.handles.delete(segment);
    try {
      this.fs.closeSync(fd);
    } catch {
      // A close error leaves nothing to undo: the descriptor is released either way.
    }
  }

  closeAll(): void {
    for (const segment of [...this.handles.keys()]) this.close(segment);
  }
}
