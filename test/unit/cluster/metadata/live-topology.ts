/**
 * Checks that a broker's live topology (vhosts, exchanges, queues, bindings) is exactly the
 * projection of its metadata state, as the metadata-commands property test checks after
 * every command, for nodes whose state came from the log or from a snapshot.
 */
import assert from "node:assert/strict";
import { toTaggedJson } from "../../../../src/protocol/field-table-json.js";
import type { Broker } from "../../../../src/vhost/broker.js";

export function assertLiveMirrorsState(broker: Broker): void {
  assert.deepEqual(
    [...broker.vhosts.keys()].sort(),
    [...broker.metadata.vhosts.keys()].sort(),
    "live vhosts",
  );
  for (const [name, meta] of broker.metadata.vhosts) {
    const live = broker.vhosts.get(name)!;
    assert.equal(live.meta, meta, `vhost ${name}: the live vhost is over the state's record`);
    assert.deepEqual([...live.exchanges.keys()].sort(), [...meta.exchanges.keys()].sort());
    assert.deepEqual(
      [...live.queues.values()].map((q) => [q.name, q.storeId, q.isDurable]).sort(),
      [...meta.queues.values()]
        .map((q) => [q.definition.name, q.id, q.definition.durable && !q.definition.exclusive])
        .sort(),
      `vhost ${name}: live queues`,
    );
    const row = (source: string, kind: string, dest: string, key: string, args: unknown) =>
      JSON.stringify([source, kind, dest, key, args]);
    assert.deepEqual(
      live
        .allBindings()
        .map((b) =>
          row(
            b.source,
            b.destination.kind,
            b.destination.name,
            b.routingKey,
            toTaggedJson(b.arguments),
          ),
        )
        .sort(),
      meta.bindings
        .all()
        .map((b) =>
          row(b.source, b.destinationKind, b.destination, b.routingKey, toTaggedJson(b.arguments)),
        )
        .sort(),
      `vhost ${name}: live bindings`,
    );
    for (const q of live.queues.values())
      assert.equal(live.bindingsOf(q).length, meta.bindings.toDestination("queue", q.name).length);
  }
}
