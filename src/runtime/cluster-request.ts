/**
 * A node whose app is stopped asks a cluster member something (join_cluster: let me in;
 * reset: let me go): over a short-lived transport of its own, holding the cluster secret,
 * that dials the member, sends one membership request and waits for the answer on the same
 * connection (the member may not know this node yet). Nothing of it is left once it returns.
 */
import {
  decodeAnswer,
  encodeJson,
  type MemberAddress,
  type MembershipAnswer,
  type MembershipRequest,
} from "../cluster/cluster-members.js";
import { TcpPeerTransport } from "../cluster/transport/tcp-peer-transport.js";
import type { Log } from "../log.js";
import {
  MEMBERSHIP_REPLY_FRAME,
  MEMBERSHIP_REQUEST_FRAME,
  MEMBERSHIP_TIMEOUT_MS,
  NOT_MEMBER_FRAME,
} from "./cluster-membership.js";

export interface ClusterRequestOptions {
  readonly nodeName: string;
  readonly secret: string;
  readonly target: MemberAddress;
  readonly request: MembershipRequest;
  readonly log: Log;
  /** How long to try to reach the target (its handshake included). */
  readonly connectTimeoutMs?: number;
}

export async function askCluster(o: ClusterRequestOptions): Promise<MembershipAnswer> {
  const { target } = o;
  const where = `${target.name} at ${target.host}:${target.port}`;
  const transport = new TcpPeerTransport({
    nodeId: o.nodeName,
    secret: o.secret,
    // Nobody dials this transport: a port of the system's choosing, on loopback.
    listen: { host: "127.0.0.1", port: 0 },
    peers: new Map([
      [
        target.name,
        { host: target.host === "localhost" ? "127.0.0.1" : target.host, port: target.port },
      ],
    ]),
    log: o.log,
  });
  let answered: (a: MembershipAnswer) => void = () => {};
  const answer = new Promise<MembershipAnswer>((resolve) => {
    answered = resolve;
  });
  transport.onFrame(MEMBERSHIP_REPLY_FRAME, (_from, payload) => answered(decodeAnswer(payload)));
  transport.onFrame(NOT_MEMBER_FRAME, () =>
    answered({ ok: false, error: `${target.name} says this node is not a member of its cluster` }),
  );
  try {
    await transport.start();
    const deadline = Date.now() + (o.connectTimeoutMs ?? 10_000);
    while (!transport.isConnected(target.name)) {
      if (Date.now() > deadline)
        return {
          ok: false,
          error: `could not reach ${where} over the cluster port (is it running, with the same cluster secret, under that name?); the node's log says why`,
        };
      await sleep(50);
    }
    if (!transport.sendFrame(target.name, MEMBERSHIP_REQUEST_FRAME, encodeJson(o.request)))
      return { ok: false, error: `could not send the request to ${where}` };
    const timeout = sleep(MEMBERSHIP_TIMEOUT_MS + 5_000).then(
      (): MembershipAnswer => ({
        ok: false,
        error: `no answer from ${where} within ${(MEMBERSHIP_TIMEOUT_MS + 5_000) / 1000} s`,
      }),
    );
    return await Promise.race([answer, timeout]);
  } finally {
    await transport.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
