/**
 * The CommandForwarder of a real cluster: a follower's metadata command crosses to the
 * leader as a PeerRequests request, and the leader's ForwardReply (JSON-safe) comes back.
 * The leader's side hands the bytes to the metadata group's serveForwarded.
 *
 * The forward's own timeout is shorter than a whole submit's (10 s), so that a leader that
 * vanished leaves time to ask the next one.
 */
import type { NodeId } from "../../raft/index.js";
import {
  type CommandForwarder,
  type ForwardedCommandHandler,
  ForwardFailedError,
  type ForwardReply,
} from "../metadata/command-forwarder.js";
import { PeerRequestError, type PeerRequests } from "./peer-requests.js";

/** The request kind of a forwarded metadata command. */
export const FORWARD_KIND = 1;

const FORWARD_TIMEOUT_MS = 4_000;

export class TransportForwarder implements CommandForwarder {
  constructor(
    private readonly requests: PeerRequests,
    private readonly timeoutMs = FORWARD_TIMEOUT_MS,
  ) {}

  async forward(leaderId: NodeId, command: Uint8Array): Promise<ForwardReply> {
    let answer: Buffer;
    try {
      answer = await this.requests.request(leaderId, FORWARD_KIND, command, this.timeoutMs);
    } catch (e) {
      const sent = e instanceof PeerRequestError ? e.sent : true;
      throw new ForwardFailedError((e as Error).message, sent);
    }
    return JSON.parse(answer.toString("utf8")) as ForwardReply;
  }

  /** The leader's side: what arrives is proposed there (MetadataGroup.serveForwarded). */
  serve(handler: ForwardedCommandHandler): void {
    this.requests.serve(FORWARD_KIND, async (_from, payload) => {
      const reply = await handler(new Uint8Array(payload));
      return Buffer.from(JSON.stringify(reply), "utf8");
    });
  }
}
