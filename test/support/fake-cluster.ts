import { CtlError, parseArgs } from "../../src/cli/ctl/args.js";
import { MgmtClient } from "../../src/cli/ctl/client.js";
import type { Verb } from "../../src/cli/ctl/verb.js";
import type {
  ClusterMember,
  ClusterSource,
  ClusterView,
  RaftGroupView,
} from "../../src/mgmt/cluster-view.js";
import type { NodeContext } from "../../src/mgmt/node-context.js";
import { requester } from "./mgmt-context.js";

// A ClusterView as the cluster runtime would give it, for the operator's outputs in unit
// tests: three nodes (this node "warren@localhost", the broker's default name, plus b and c)
// in the states the brief names: all up, one unreachable, this node paused.

export const NOW_MS = Date.parse("2026-12-07T12:00:00Z");
export const SELF = "warren@localhost";

const member = (name: string, port: number, extra: Partial<ClusterMember> = {}): ClusterMember => ({
  name,
  clusterAddress: `127.0.0.1:${port}`,
  reachable: true,
  connectedSinceMs: NOW_MS - 3_600_000,
  lastHeardMs: NOW_MS - 200,
  version: "0.1.0",
  nodejsVersion: "v20.11.0",
  clockOffsetMs: 3,
  bytesSent: 1000 + port,
  bytesReceived: 2000 + port,
  alarms: [],
  ...extra,
});

const group = (extra: Partial<RaftGroupView> = {}): RaftGroupView => ({
  role: "follower",
  term: 4,
  leader: "warren@b",
  voters: [SELF, "warren@b", "warren@c"],
  commitIndex: 120,
  appliedIndex: 120,
  lastIndex: 121,
  snapshotIndex: 100,
  logEntries: 21,
  logBytes: 4096,
  ...extra,
});

/** All three members up and talking. */
export function allUp(extra: Partial<ClusterView> = {}): ClusterView {
  return {
    thisNode: SELF,
    clusterId: "3f6c2a9e-cluster",
    members: [member(SELF, 25672), member("warren@b", 25673), member("warren@c", 25674)],
    partitions: [],
    metadata: group(),
    ...extra,
  };
}

/** warren@c unreachable from here for five minutes; the majority (this node and b) is fine. */
export function oneUnreachable(): ClusterView {
  const v = allUp();
  return {
    ...v,
    members: v.members.map((m) =>
      m.name === "warren@c"
        ? {
            name: m.name,
            clusterAddress: m.clusterAddress,
            reachable: false,
            lastHeardMs: NOW_MS - 300_000,
            unreachableSinceMs: NOW_MS - 300_000,
            version: "0.1.0",
          }
        : m,
    ),
    partitions: [{ node: SELF, cannotSee: ["warren@c"] }],
  };
}

/** This node cut off from both others: it paused (pause_minority). */
export function paused(): ClusterView {
  const v = allUp();
  return {
    ...v,
    members: v.members.map((m) =>
      m.name === SELF
        ? m
        : {
            name: m.name,
            clusterAddress: m.clusterAddress,
            reachable: false,
            lastHeardMs: NOW_MS - 60_000,
            unreachableSinceMs: NOW_MS - 60_000,
          },
    ),
    partitions: [{ node: SELF, cannotSee: ["warren@b", "warren@c"] }],
    paused: {
      reason: `node ${SELF} cannot see a majority of the cluster`,
      sinceMs: NOW_MS - 55_000,
    },
    metadata: group({ role: "preCandidate", leader: undefined, term: 5 }),
  };
}

/** A source whose view the test can change between calls. */
export function source(view: ClusterView): ClusterSource & { current: ClusterView } {
  return {
    current: view,
    view() {
      return this.current;
    },
  };
}

/** The management API in process, as warrenctl's client sees it (JSON round trip included). */
export class InProcessApi extends MgmtClient {
  private readonly dispatch: ReturnType<typeof requester>;
  constructor(ctx: NodeContext) {
    super({
      baseUrl: "http://in-process",
      username: "guest",
      password: "guest",
      label: "in-process",
      timeoutMs: 5000,
    });
    this.dispatch = requester(ctx);
  }

  override async request(method: string, path: string, body?: unknown) {
    const r = await this.dispatch(method, path, body).catch(
      (e: { toResponse(): { status: number; body?: unknown } }) => e.toResponse(),
    );
    const text = typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? "");
    const parsed = typeof r.body === "string" ? r.body : JSON.parse(text);
    return { status: r.status, body: parsed, text };
  }
}

/** Runs one warrenctl verb against a context, as runWarrenctl would (exit code, output). */
export async function runVerb(verb: Verb, ctx: NodeContext, argv: string[] = []) {
  let stdout = "";
  let stderr = "";
  const out = {
    stdout: (t: string) => {
      stdout += t;
    },
    stderr: (t: string) => {
      stderr += t;
    },
  };
  const args = parseArgs([verb.name, ...argv]);
  let code: number;
  try {
    code = await verb.run({
      args,
      params: args.positional.slice(1),
      api: new InProcessApi(ctx),
      out,
      env: {},
    });
  } catch (e) {
    if (!(e instanceof CtlError)) throw e;
    stderr += `${e.message}\n`;
    code = e.exitCode;
  }
  return { code, stdout, stderr };
}
