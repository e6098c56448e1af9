/**
 * The Raft driver on three in-process nodes over the TCP transport, with a timer for a clock:
 * the interface the driver was built against (PeerTransport) carries a real cluster.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  MessageReceiver,
  PeerTransport,
  ProposalOutcome,
  TickSource,
} from "../../../../src/cluster/index.js";
import { logWriterOf, RaftDriver } from "../../../../src/cluster/index.js";
import type { PeerAddress } from "../../../../src/cluster/transport/index.js";
import { TcpPeerTransport } from "../../../../src/cluster/transport/index.js";
import type { GroupMessage, NodeId } from "../../../../src/raft/index.js";
import { MemoryLogDisk, MemoryRaftLogStore } from "../../../../src/store/memory-raft-log-store.js";
import { ListStateMachine } from "../driver-cluster.js";
import { CapturingLog, SECRET, seededRandom, waitFor } from "./transport-fixtures.js";

const TICK_MS = 20;
const GROUPS = ["meta", "q1", "q2"];

/** The runtime's clock in miniature: one tick per period from a timer. */
class IntervalTicks implements TickSource {
  private timer: NodeJS.Timeout | null = null;
  start(onTick: () => void): void {
    this.timer = setInterval(onTick, TICK_MS);
  }
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Lets the test kill a node's transport and bring up a new one under the same driver. */
class SwitchableTransport implements PeerTransport {
  current: TcpPeerTransport | null = null;
  private receiver: MessageReceiver = () => {};
  send(to: NodeId, messages: readonly GroupMessage[]): void {
    this.current?.send(to, messages);
  }
  onReceive(receiver: MessageReceiver): void {
    this.receiver = receiver;
    this.current?.onReceive(receiver);
  }
  bind(transport: TcpPeerTransport): void {
    this.current = transport;
    transport.onReceive(this.receiver);
  }
}

interface Node {
  readonly id: NodeId;
  readonly driver: RaftDriver;
  readonly machines: Map<string, ListStateMachine>;
  readonly transport: SwitchableTransport;
  address: PeerAddress;
  readonly log: CapturingLog;
}

async function startTransport(
  node: Node,
  port: number,
  seed: number,
  peers: readonly Node[] = [],
): Promise<TcpPeerTransport> {
  const transport = new TcpPeerTransport({
    // Known from the start, so that peers dialling in at once are accepted.
    peers: new Map(peers.map((p) => [p.id, p.address])),
    nodeId: node.id,
    secret: SECRET,
    listen: { host: "127.0.0.1", port },
    log: node.log,
    random: seededRandom(seed),
    backoff: { initialMs: 20, maxMs: 200 },
  });
  node.transport.bind(transport);
  node.address = await transport.start();
  return transport;
}

function connect(nodes: readonly Node[]): void {
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.transport.current?.addPeer(b.id, b.address);
  }
}

function leaderOf(nodes: readonly Node[], groupId: string, among = nodes): Node | null {
  const leaders = among.filter((n) => n.driver.machine(groupId)?.status().role === "leader");
  if (leaders.length !== 1) return null;
  // Only a leader the others follow: an isolated old leader may not have stepped down yet.
  const leader = leaders[0]!;
  const term = leader.driver.machine(groupId)!.status().term;
  const followers = among.filter((n) => n.driver.machine(groupId)!.status().leaderId === leader.id);
  return followers.length === among.length &&
    among.every((n) => n.driver.machine(groupId)!.status().term === term)
    ? leader
    : null;
}

/** Commits one command through whoever leads, retrying a bounded number of times. */
async function commit(
  nodes: readonly Node[],
  groupId: string,
  command: string,
  among = nodes,
): Promise<void> {
  let last: ProposalOutcome | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const leader = leaderOf(nodes, groupId, among);
    if (leader !== null) {
      last = await leader.driver.group(groupId)!.submit(new TextEncoder().encode(command));
      if (last.status === "applied") return;
      // Appended but its fate unknown here: it may still apply; retrying could apply it twice.
      if (last.status === "unknown") {
        const applied = () =>
          nodes.some((n) => n.machines.get(groupId)!.commands.includes(command));
        await waitFor(`${command} to apply somewhere`, applied, 5_000);
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`could not commit ${command}: ${JSON.stringify(last)}`);
}

test("the Raft driver elects, commits, loses a node's transport and catches it up over TCP", async () => {
  const ids = ["warren@a", "warren@b", "warren@c"];
  const membership = { voters: ids, learners: [] };
  const nodes: Node[] = [];
  try {
    for (const [i, id] of ids.entries()) {
      const store = new MemoryRaftLogStore(new MemoryLogDisk());
      for (const groupId of GROUPS) store.createGroup(groupId, membership);
      await store.sync();
      const transport = new SwitchableTransport();
      const driver = new RaftDriver({
        nodeId: id,
        log: logWriterOf(store),
        transport,
        ticks: new IntervalTicks(),
        raftOptions: { electionTicks: 10, heartbeatTicks: 1, random: Math.random },
      });
      const machines = new Map<string, ListStateMachine>();
      for (const groupId of GROUPS) {
        const stateMachine = new ListStateMachine();
        machines.set(groupId, stateMachine);
        // Snapshots every 30 entries, so the returning node is caught up by a snapshot too.
        driver.addGroup(groupId, {
          persisted: store.load(groupId)!,
          stateMachine,
          snapshotEveryEntries: 30,
        });
      }
      const node: Node = {
        id,
        driver,
        machines,
        transport,
        address: { host: "", port: 0 },
        log: new CapturingLog(),
      };
      await startTransport(node, 0, i + 1);
      nodes.push(node);
    }
    connect(nodes);
    for (const node of nodes) node.driver.start();

    await waitFor(
      "a leader of every group",
      () => GROUPS.every((g) => leaderOf(nodes, g) !== null),
      15_000,
    );
    await Promise.all(Array.from({ length: 100 }, (_, i) => commit(nodes, "meta", `first-${i}`)));
    await Promise.all(GROUPS.slice(1).map((g) => commit(nodes, g, `${g}-one`)));
    await waitFor("every node applied the first 100", () =>
      nodes.every((n) => n.machines.get("meta")!.commands.length === 100),
    );

    // Kill the metadata leader's transport: the other two elect a leader and carry on.
    const victim = leaderOf(nodes, "meta")!;
    const survivors = nodes.filter((n) => n !== victim);
    const port = victim.address.port;
    await victim.transport.current!.close();
    await waitFor(
      "a leader among the other two",
      () => leaderOf(nodes, "meta", survivors) !== null,
      15_000,
    );
    for (let i = 0; i < 50; i++) await commit(nodes, "meta", `second-${i}`, survivors);
    assert.equal(
      victim.machines.get("meta")!.commands.length,
      100,
      "the cut-off node applied nothing new",
    );

    // The leader compacted past what the cut-off node holds: it must catch up by a snapshot.
    const newLeader = leaderOf(nodes, "meta", survivors)!;
    assert.ok(newLeader.driver.machine("meta")!.status().firstIndex > 102);

    // Bring it back on the same port: it reconnects, and catches up.
    await startTransport(victim, port, 42, survivors);
    await waitFor(
      "the returning node caught up",
      () => victim.machines.get("meta")!.commands.length === 150,
      15_000,
    );
    const reference = survivors[0]!.machines.get("meta")!.commands;
    for (const node of nodes) assert.deepEqual(node.machines.get("meta")!.commands, reference);
    assert.equal(new Set(reference).size, 150, "no command applied twice");
    await commit(nodes, "meta", "after-return");
    await waitFor("all three apply a new command", () =>
      nodes.every((n) => n.machines.get("meta")!.commands.at(-1) === "after-return"),
    );
    const received = nodes.map((n) =>
      n.transport.current!.stats().reduce((sum, s) => sum + s.messagesIn, 0),
    );
    assert.ok(received.every((count) => count > 0));
  } finally {
    for (const node of nodes) node.driver.stop();
    await Promise.all(nodes.map((n) => n.transport.current?.close()));
  }
});
