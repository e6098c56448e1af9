/**
 * Names for the connections that own exclusive queues, so a command can carry its
 * owner as data. A key is `<node>/<n>`: unique in a cluster, and it says which node's
 * connection it was (when a node goes, its connections' exclusive queues go too).
 * The node that made a key maps it back to the connection when it builds the queue.
 */
export class OwnerKeys {
  private readonly keys = new WeakMap<object, string>();
  private readonly owners = new Map<string, WeakRef<object>>();
  private next = 1;

  constructor(private readonly node: string) {}

  keyOf(owner: object): string {
    let key = this.keys.get(owner);
    if (key === undefined) {
      key = `${this.node}/${this.next++}`;
      this.keys.set(owner, key);
      this.owners.set(key, new WeakRef(owner));
    }
    return key;
  }

  /** The owner a key names, while it is known here. */
  ownerOf(key: string): object | undefined {
    return this.owners.get(key)?.deref();
  }

  /** The owner is gone (its connection closed): its key is never given out again. */
  forget(owner: object): void {
    const key = this.keys.get(owner);
    if (key !== undefined) this.owners.delete(key);
  }

  /** Owners known here (for tests of the bookkeeping). */
  get size(): number {
    return this.owners.size;
  }
}
