/**
 * The metadata group in the simulator: each node's group applies its committed entries to a
 * real Broker's definitions through the production MetadataMachine (src/cluster/metadata), as
 * a cluster node does. The state reported to the invariant checker after every index mixes the
 * running hash of the entries applied (as hash-state-machine.ts) with a digest of the node's
 * whole MetadataState, so State Machine Safety also checks that applying the same entries, or
 * restoring a snapshot and applying the rest, gives every node the same definitions.
 *
 * Proposals to this group carry a metadata command behind a unique prefix ("md17:{json}"), so
 * every proposal's key is distinct for the checker; the machine strips the prefix. Other keys
 * (the liveness probes) are not commands and are refused alike on every node.
 */
import fc from "fast-check";
import type { ReplicatedStateMachine } from "../../src/cluster/index.js";
import { encodeCommand, MetadataMachine } from "../../src/cluster/metadata/index.js";
import { silentLog } from "../../src/log.js";
import type { LogEntry, Snapshot } from "../../src/raft/index.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";
import type { MetadataCommand } from "../../src/vhost/commands/command-types.js";
import { digest, metadataCommand } from "../support/metadata-commands.js";
import { hashString, mix } from "./hash-state-machine.js";
import { entryKey } from "./invariant-checker.js";
import type { Prng } from "./prng.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PREFIX = /^md\d+:/;

/** A proposal's key: a unique prefix and the command's JSON. */
export function metadataProposal(prng: Prng, sequence: number): string {
  // The default vhost now and then, so declarations have somewhere to go after a refusal.
  const command: MetadataCommand = prng.chance(0.1)
    ? { type: "vhost.add", vhost: "/" }
    : fc.sample(metadataCommand, { seed: prng.int(0, 2 ** 31 - 1), numRuns: 1 })[0]!;
  return `md${sequence}:${decoder.decode(encodeCommand(command))}`;
}

export class MetadataSimMachine implements ReplicatedStateMachine<string> {
  private entriesHash = 0;
  private readonly broker: Broker;
  private readonly machine: MetadataMachine;

  /** report: the state reached after an index, for State Machine Safety. */
  constructor(
    private readonly report: (index: number, stateHash: number) => void,
    clock: () => number,
  ) {
    // Applying never draws random bytes (names are chosen before a command is made).
    this.broker = new Broker(DEFAULT_SETTINGS, silentLog, {
      clock,
      randomBytes: (size) => Buffer.alloc(size),
    });
    this.machine = new MetadataMachine(this.broker.metadataReplica());
  }

  apply(entry: LogEntry): string {
    const key = entryKey(entry);
    const prefix = entry.kind === "command" ? PREFIX.exec(key) : null;
    this.machine.apply(
      prefix ? { ...entry, data: encoder.encode(key.slice(prefix[0].length)) } : entry,
    );
    this.entriesHash = mix(mix(this.entriesHash, entry.term), hashString(key));
    this.report(entry.index, this.stateHash());
    return key;
  }

  /** The running hash of the entries, then the metadata machine's own snapshot. */
  snapshot(): Uint8Array {
    const inner = this.machine.snapshot();
    const out = new Uint8Array(4 + inner.byteLength);
    new DataView(out.buffer).setUint32(0, this.entriesHash);
    out.set(inner, 4);
    return out;
  }

  restore(snapshot: Snapshot): void {
    if (snapshot.data.byteLength === 0) {
      this.entriesHash = 0;
      this.machine.restore(snapshot);
    } else {
      const view = new DataView(snapshot.data.buffer, snapshot.data.byteOffset, 4);
      this.entriesHash = view.getUint32(0);
      this.machine.restore({ ...snapshot, data: snapshot.data.subarray(4) });
    }
    this.report(snapshot.meta.index, this.stateHash());
  }

  private stateHash(): number {
    return mix(this.entriesHash, hashString(JSON.stringify(digest(this.broker.metadata))));
  }
}
