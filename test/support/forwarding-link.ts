/**
 * An in-memory cluster link for classic-queue forwarding (src/cluster/queues): each node
 * gets a ForwardingLink endpoint of one MemoryForwardingNet, with what the forwarding
 * relies on of the real transport (TCP and PeerRequests):
 *
 * - frames and requests share one ordered channel per direction;
 * - a link is lost as a whole: cut() (or a dropped frame, or a node going away) drops
 *   everything in flight on it, makes pending requests over it fail, and fires onLinkLost
 *   on both ends, together, on a later turn (as a socket's close event would);
 * - a lost link comes back only when told (heal, reconnect), as a new session: nothing of
 *   the old one arrives after that.
 *
 * Time is the scheduler's: real turns for unit tests (immediateScheduler), the simulator's
 * event queue for test/sim/classic-queue-sim.ts.
 */
import type { ForwardingLink } from "../../src/cluster/queues/queue-forwarding.js";
import type { FrameHandler } from "../../src/cluster/transport/tcp-peer-transport.js";

export interface LinkScheduler {
  after(delayMs: number, run: () => void): void;
}

/** Real turns: a frame arrives on a later turn, in order. */
export const immediateScheduler: LinkScheduler = {
  after: (delayMs, run) => {
    if (delayMs <= 0) setImmediate(run);
    else setTimeout(run, delayMs);
  },
};

export interface NetOptions {
  /** Transit time of one frame on a link (default 0). */
  delayMs?: (from: string, to: string) => number;
  /** Whether the connection drops while carrying this frame (default never). */
  dropsFrame?: (from: string, to: string) => boolean;
  /** After a drop, how long until the link is up again (default: until heal). */
  reconnectMs?: () => number;
}

/** Why a request failed: the link was lost, or is down, or the answer took too long. */
export class LinkRequestError extends Error {}

type Envelope =
  | { readonly kind: "frame"; readonly type: number; readonly payload: Buffer }
  | {
      readonly kind: "request";
      readonly id: number;
      readonly rkind: number;
      readonly payload: Buffer;
    }
  | {
      readonly kind: "answer";
      readonly id: number;
      readonly payload: Buffer | undefined;
      readonly error?: string;
    };

interface Pending {
  readonly to: string;
  resolve(answer: Buffer): void;
  reject(e: Error): void;
}

/** The link between two nodes (unordered pair): its session, and whether it is up. */
interface Pair {
  session: number;
  /** Cut by the test or the nemesis: stays down until healed. */
  cut: boolean;
  /** Dropped: down until the reconnection of its latest drop. */
  reconnecting: boolean;
  drops: number;
  /** Per direction ("a>b"): the latest arrival time scheduled, so frames never overtake. */
  readonly lastArrival: Map<string, number>;
}

export class MemoryForwardingNet {
  private readonly endpoints = new Map<string, MemoryForwardingLink>();
  private readonly pairs = new Map<string, Pair>();
  /** While held, arriving frames wait (in order) until release(). */
  private held: (() => void)[] | undefined;
  framesSent = 0;
  linksLost = 0;
  /** Told the moment a link's session ends, before either end hears of it (the simulator's ledger). */
  onLost: ((a: string, b: string) => void) | undefined;

  constructor(
    private readonly scheduler: LinkScheduler = immediateScheduler,
    private readonly options: NetOptions = {},
    /** Simulated time, for ordering arrivals; real tests leave it at 0. */
    private readonly now: () => number = () => 0,
  ) {}

  /** The node's endpoint; a node that went away (remove) gets a fresh one. */
  endpoint(node: string): MemoryForwardingLink {
    let e = this.endpoints.get(node);
    if (!e) {
      e = new MemoryForwardingLink(node, this);
      this.endpoints.set(node, e);
    }
    return e;
  }

  /** The node is gone (crashed, stopped): every link with it is lost. */
  remove(node: string): void {
    const e = this.endpoints.get(node);
    if (!e) return;
    for (const other of this.endpoints.keys()) if (other !== node) this.lose(node, other);
    e.dead = true;
    this.endpoints.delete(node);
  }

  private pair(a: string, b: string): Pair {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = { session: 0, cut: false, reconnecting: false, drops: 0, lastArrival: new Map() };
      this.pairs.set(key, p);
    }
    return p;
  }

  isUp(a: string, b: string): boolean {
    if (!this.endpoints.has(a) || !this.endpoints.has(b)) return false;
    const p = this.pair(a, b);
    return !p.cut && !p.reconnecting;
  }

  /** Cuts the link (both directions) until heal: whatever is in flight is lost. */
  cut(a: string, b: string): void {
    const p = this.pair(a, b);
    const wasUp = !p.cut && !p.reconnecting;
    p.cut = true;
    if (wasUp) this.lose(a, b);
  }

  heal(a: string, b: string): void {
    this.pair(a, b).cut = false;
  }

  healAll(): void {
    for (const p of this.pairs.values()) p.cut = false;
  }

  /** Runs `run` after `delayMs` on the net's time (request timeouts). */
  scheduleTimeout(delayMs: number, run: () => void): void {
    this.scheduler.after(delayMs, run);
  }

  /** Holds every arrival until release(): frames in flight can then be cut. */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const run of held) run();
  }

  /** Ends the link's session: in-flight traffic dies now, both ends hear of it on a later turn. */
  private lose(a: string, b: string): void {
    const p = this.pair(a, b);
    p.session++;
    p.lastArrival.clear();
    this.linksLost++;
    this.onLost?.(a, b);
    const ends = [this.endpoints.get(a), this.endpoints.get(b)];
    this.scheduler.after(0, () => {
      for (const [end, peer] of [
        [ends[0], b],
        [ends[1], a],
      ] as const) {
        if (end && !end.dead) end.linkLost(peer);
      }
    });
  }

  /** Sends one envelope; false when the link is down. */
  send(from: string, to: string, envelope: Envelope): boolean {
    if (!this.isUp(from, to)) return false;
    this.framesSent++;
    const p = this.pair(from, to);
    const session = p.session;
    if (this.options.dropsFrame?.(from, to)) {
      this.lose(from, to);
      const reconnectMs = this.options.reconnectMs;
      if (reconnectMs) {
        // The latest drop's reconnection ends it (a crash or a cut meanwhile does not).
        const drop = ++p.drops;
        p.reconnecting = true;
        this.scheduler.after(reconnectMs(), () => {
          if (p.drops === drop) p.reconnecting = false;
        });
      } else p.cut = true;
      return true; // written to the socket; the connection died under it
    }
    const direction = `${from}>${to}`;
    const now = this.now();
    const arrival = Math.max(
      now + (this.options.delayMs?.(from, to) ?? 0),
      p.lastArrival.get(direction) ?? 0,
    );
    p.lastArrival.set(direction, arrival);
    const arrive = () => {
      if (p.session !== session) return;
      const target = this.endpoints.get(to);
      if (target && !target.dead) target.receive(from, envelope);
    };
    this.scheduler.after(arrival - now, () => {
      if (this.held) this.held.push(arrive);
      else arrive();
    });
    return true;
  }
}

/** One node's end of the MemoryForwardingNet. */
export class MemoryForwardingLink implements ForwardingLink {
  private readonly frameHandlers = new Map<number, FrameHandler>();
  private readonly servers = new Map<
    number,
    (from: string, payload: Buffer) => Promise<Uint8Array>
  >();
  private readonly lostHandlers: ((peer: string) => void)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  dead = false;

  constructor(
    readonly node: string,
    private readonly net: MemoryForwardingNet,
  ) {}

  onFrame(type: number, handler: FrameHandler): void {
    this.frameHandlers.set(type, handler);
  }

  sendFrame(to: string, type: number, payload: Uint8Array): boolean {
    return this.net.send(this.node, to, { kind: "frame", type, payload: Buffer.from(payload) });
  }

  isReachable(peer: string): boolean {
    return this.net.isUp(this.node, peer);
  }

  onLinkLost(handler: (peer: string) => void): void {
    this.lostHandlers.push(handler);
  }

  request(to: string, kind: number, payload: Uint8Array, timeoutMs?: number): Promise<Buffer> {
    const id = this.nextRequestId++;
    return new Promise<Buffer>((resolve, reject) => {
      const sent = this.net.send(this.node, to, {
        kind: "request",
        id,
        rkind: kind,
        payload: Buffer.from(payload),
      });
      if (!sent) {
        reject(new LinkRequestError(`${to} is not reachable`));
        return;
      }
      this.pending.set(id, { to, resolve, reject });
      if (timeoutMs !== undefined) {
        this.net.scheduleTimeout(timeoutMs, () => {
          const p = this.pending.get(id);
          if (!p) return;
          this.pending.delete(id);
          p.reject(new LinkRequestError(`no answer from ${to} within ${timeoutMs} ms`));
        });
      }
    });
  }

  serve(kind: number, handler: (from: string, payload: Buffer) => Promise<Uint8Array>): void {
    this.servers.set(kind, handler);
  }

  /** The link with `peer` was lost: its requests fail first (as PeerRequests.peerLost), then the handlers. */
  linkLost(peer: string): void {
    for (const [id, p] of [...this.pending]) {
      if (p.to !== peer) continue;
      this.pending.delete(id);
      p.reject(new LinkRequestError(`the link to ${peer} was lost`));
    }
    for (const handler of this.lostHandlers) handler(peer);
  }

  receive(from: string, envelope: Envelope): void {
    if (envelope.kind === "frame") {
      this.frameHandlers.get(envelope.type)?.(from, envelope.payload);
    } else if (envelope.kind === "answer") {
      const p = this.pending.get(envelope.id);
      if (!p) return;
      this.pending.delete(envelope.id);
      if (envelope.payload) p.resolve(envelope.payload);
      else p.reject(new LinkRequestError(envelope.error ?? "refused"));
    } else {
      const server = this.servers.get(envelope.rkind);
      const answer = (payload: Buffer | undefined, error?: string) => {
        if (!this.dead)
          this.net.send(this.node, from, { kind: "answer", id: envelope.id, payload, error });
      };
      if (!server) {
        answer(undefined, `nothing serves request kind ${envelope.rkind}`);
        return;
      }
      let answered: Promise<Uint8Array>;
      try {
        answered = server(from, envelope.payload);
      } catch (e) {
        answer(undefined, e instanceof Error ? e.message : String(e));
        return;
      }
      answered.then(
        (payload) => answer(Buffer.from(payload)),
        (e: unknown) => answer(undefined, e instanceof Error ? e.message : String(e)),
      );
    }
  }
}
