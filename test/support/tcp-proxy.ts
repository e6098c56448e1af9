import net from "node:net";
import { claimPort } from "./mgmt-broker.js";

export interface TcpProxyOptions {
  /** The loopback address to listen on (127.0.0.1 unless told). */
  readonly listenHost?: string;
  /** Called for each client connection; what it returns sees every byte the client sends. */
  readonly tapClient?: () => (chunk: Buffer) => void;
}

/**
 * A TCP proxy in front of a broker, for fault tests that really cut connections:
 * `cut()` destroys every proxied socket pair at once, as a failed network would.
 * With `tapClient` it also records what clients send (the fuzz corpus).
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  port = 0;
  /** While set, new connections are reset at once (a network that drops everything). */
  blocked = false;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    private readonly options: TcpProxyOptions = {},
  ) {
    this.server = net.createServer((client) => {
      if (this.blocked) {
        client.resetAndDestroy();
        return;
      }
      const tap = this.options.tapClient?.();
      if (tap) client.on("data", tap);
      const upstream = net.connect(this.targetPort, this.targetHost);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
  }

  async start(): Promise<string> {
    const host = this.options.listenHost ?? "127.0.0.1";
    // The kernel may give a port freePort handed to a node that has not bound it yet (a
    // cluster test picks every node's ports before it starts the proxies): listen again.
    for (;;) {
      await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
      this.port = (this.server.address() as net.AddressInfo).port;
      if (claimPort(this.port)) break;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
    return `amqp://guest:guest@${host}:${this.port}`;
  }

  /** Severs every connection through the proxy (both directions, no FIN handshake). */
  cut(): void {
    for (const [a, b] of this.pairs) {
      reset(a);
      reset(b);
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    // Destroyed, not reset: a socket reset while its peer is already gone can leave a handle
    // that never closes, and the test process then spins at exit in Node's handle cleanup.
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * An RST for an established socket; a socket still connecting is only destroyed (Node
 * would hold a reset until it connects, which a dead target never does).
 */
function reset(socket: net.Socket): void {
  if (socket.connecting || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
