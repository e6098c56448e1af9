/**
 * One Raft node in its own process for cluster-transport.test.ts: a RaftDriver over a
 * FileRaftLogStore in --dir and the TCP transport on --port, ticked by a timer. The test
 * drives it with JSON lines on stdin and reads JSON lines from stdout:
 *
 *   in:  {"op":"peer","id":"warren@b","port":1234}   {"op":"propose","cmd":"x"}   {"op":"dump"}
 *   out: {"event":"listening","port":1234}   {"event":"role","role":"leader","term":2}
 *        {"event":"outcome","cmd":"x","status":"applied"}   {"event":"dump","commands":[...]}
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { TickSource } from "../../src/cluster/index.js";
import { logWriterOf, RaftDriver } from "../../src/cluster/index.js";
import { TcpPeerTransport } from "../../src/cluster/transport/index.js";
import { FileRaftLogStore } from "../../src/store/file-raft-log-store.js";
import { ListStateMachine } from "../unit/cluster/driver-cluster.js";

const { values } = parseArgs({
  options: {
    id: { type: "string" },
    dir: { type: "string" },
    port: { type: "string", default: "0" },
    members: { type: "string" },
    secret: { type: "string", default: "interop cluster secret" },
  },
});
const id = values.id!;
const GROUP = "meta";

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const store = await FileRaftLogStore.open(values.dir!);
if (store.load(GROUP) === undefined) {
  store.createGroup(GROUP, { voters: values.members!.split(","), learners: [] });
  await store.sync();
}

const transport = new TcpPeerTransport({
  nodeId: id,
  secret: values.secret!,
  listen: { host: "127.0.0.1", port: Number(values.port) },
  backoff: { initialMs: 50, maxMs: 500 },
  log: {
    debug() {},
    info: (_f, msg) => emit({ event: "log", msg }),
    warn: (_f, msg) => emit({ event: "log", msg }),
    error: (_f, msg) => emit({ event: "log", msg }),
  },
});

let timer: NodeJS.Timeout | null = null;
const ticks: TickSource = {
  start: (onTick) => {
    timer = setInterval(onTick, 20);
  },
  stop: () => {
    if (timer !== null) clearInterval(timer);
  },
};

let lastRole = "";
const driver = new RaftDriver({
  nodeId: id,
  log: logWriterOf(store),
  transport,
  ticks,
  raftOptions: { electionTicks: 10, heartbeatTicks: 1, random: Math.random },
  observer: {
    changed: (_groupId, machine) => {
      const { role, term } = machine.status();
      if (`${role}/${term}` === lastRole) return;
      lastRole = `${role}/${term}`;
      emit({ event: "role", role, term });
    },
  },
});
const stateMachine = new ListStateMachine();
const group = driver.addGroup(GROUP, {
  persisted: store.load(GROUP)!,
  stateMachine,
  snapshotEveryEntries: 40,
});

const { port } = await transport.start();
driver.start();
emit({ event: "listening", port });

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line) as { op: string; id?: string; port?: number; cmd?: string };
  if (request.op === "peer") {
    transport.addPeer(request.id!, { host: "127.0.0.1", port: request.port! });
  } else if (request.op === "propose") {
    const cmd = request.cmd!;
    void group.submit(new TextEncoder().encode(cmd)).then((outcome) => {
      emit({ event: "outcome", cmd, status: outcome.status });
    });
  } else if (request.op === "dump") {
    emit({ event: "dump", commands: stateMachine.commands });
  }
}
// stdin closed: the test is done with this node.
driver.stop();
await transport.close();
await store.close();
