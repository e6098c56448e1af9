import net from "node:net";
import { AmqpConnection, type Transport } from "../connection/amqp-connection.js";
import type { TaskTimer } from "../doctor/stalls.js";
import type { Broker } from "../vhost/broker.js";
import type { FlushScheduler } from "./flush-scheduler.js";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * The AMQP TCP listeners: each accepted socket becomes an AmqpConnection whose
 * output is written once per event-loop turn by the flush scheduler.
 */
export class AmqpListener {
  readonly servers: net.Server[] = [];
  readonly sockets = new Map<net.Socket, AmqpConnection>();
  readonly bound: ListenAddress[] = [];

  /**
   * Connections refused at accept (near the descriptor limit), for status and metrics.
   * Addresses cooling off after failed logins are refused at login instead, with 403.
   */
  refused = 0;
  private lastRefusalLogMs = 0;

  constructor(
    private readonly broker: Broker,
    private readonly flusher: FlushScheduler,
    /** Times each socket's input, so a stall can be blamed on the connection that caused it. */
    private readonly tasks: TaskTimer | undefined,
    /** Says why a new connection from this address must be refused, or undefined to accept it. */
    private readonly admission: (remoteAddress: string) => string | undefined = () => undefined,
  ) {}

  /**
   * Listens on every address. Port 0 picks a free port for the first address and
   * reuses it for the others, so 127.0.0.1 and ::1 answer on the same port.
   */
  async listen(addresses: readonly ListenAddress[]): Promise<void> {
    let chosenPort = 0;
    for (const requested of addresses) {
      const address =
        requested.port === 0 && chosenPort !== 0 ? { ...requested, port: chosenPort } : requested;
      const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ host: address.host, port: address.port, backlog: 1024 }, () => {
            server.off("error", reject);
            resolve();
          });
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // A host without IPv6 cannot bind ::1; the IPv4 listener is enough then.
        if (address.host === "::1" && (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT")) {
          this.broker.log.warn(
            { host: address.host, code },
            "IPv6 loopback not available; not listening on it",
          );
          continue;
        }
        throw e;
      }
      const port = (server.address() as net.AddressInfo).port;
      chosenPort ||= port;
      this.servers.push(server);
      this.bound.push({ host: address.host, port });
      this.broker.log.info(
        { host: address.host, port, protocol: "amqp" },
        `started TCP listener on ${formatHost(address.host)}:${port}`,
      );
    }
  }

  /**
   * Whether the node takes this socket now; a refused one is closed. The TLS listener
   * asks before its handshake, so refused clients cost no TLS work.
   */
  admit(socket: net.Socket, refuse: (socket: net.Socket) => void = (s) => s.destroy()): boolean {
    const refusal = this.admission(socket.remoteAddress ?? "");
    if (refusal) {
      this.refused++;
      const now = Date.now();
      // One line a second at most: a flood of refusals must not become a flood of logs.
      if (now - this.lastRefusalLogMs >= 1000) {
        this.lastRefusalLogMs = now;
        this.broker.log.error(
          { peer: `${socket.remoteAddress}:${socket.remotePort}`, refusedSoFar: this.refused },
          `refusing AMQP connection from ${socket.remoteAddress}: ${refusal}`,
        );
      }
      refuse(socket);
      return false;
    }
    return true;
  }

  /** Also takes the TLS listener's sockets, with what their handshake established. */
  accept(socket: net.Socket, secure?: Pick<Transport, "tls" | "peerCertificate">): void {
    // A plain TCP client is refused with a FIN; a TLS one (admitted by the TLS
    // listener before its handshake) is simply dropped.
    if (!this.admit(socket, secure ? undefined : refuseGently)) return;
    const flusher = this.flusher;
    const keepaliveSec = this.broker.settings.tcpKeepaliveSec;
    if (keepaliveSec > 0) socket.setKeepAlive(true, keepaliveSec * 1000);
    let conn: AmqpConnection;
    const transport: Transport = {
      ...secure,
      remoteAddress: socket.remoteAddress ?? "unknown",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "unknown",
      localPort: socket.localPort ?? 0,
      get writableLength() {
        return socket.writableLength;
      },
      requestFlush: () => flusher.schedule(conn),
      end: () => {
        flusher.writeNow(conn);
        socket.end();
      },
      destroy: () => {
        socket.destroy();
      },
      pauseReading: () => {
        socket.pause();
      },
      resumeReading: () => {
        socket.resume();
      },
      defer: (fn) => setImmediate(() => timed(describe, fn)),
    };
    // Every callback that runs broker code is timed, so a stall names its connection.
    const timed = <T>(what: () => string, fn: () => T): T =>
      this.tasks ? this.tasks.timed(what, fn) : fn();
    const describe = () =>
      `input from connection ${conn.name} (user '${conn.user?.name ?? "?"}', last command: ${conn.lastCommand ?? "none"})`;
    conn = new AmqpConnection(this.broker, transport);
    this.sockets.set(socket, conn);
    flusher.attach(conn, socket);
    this.broker.log.info(
      { connection: conn.name, peer: conn.peer },
      `accepting AMQP connection ${conn.name}`,
    );
    socket.on("data", (chunk: Buffer) => timed(describe, () => conn.receive(chunk)));
    socket.on("drain", () =>
      timed(
        () => `deliveries resumed to connection ${conn.name} (its socket drained)`,
        () => conn.onDrain(),
      ),
    );
    socket.on("error", (err) => {
      conn.closeReason ||= `socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
    });
    socket.on("close", () =>
      timed(
        () =>
          `closing connection ${conn.name} (user '${conn.user?.name ?? "?"}'): releasing its channels, consumers and unacknowledged messages`,
        () => {
          this.sockets.delete(socket);
          flusher.detach(conn);
          conn.socketClosed();
        },
      ),
    );
  }

  /** Stops accepting; existing connections are left to the caller. */
  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }
}

/** How long a refused socket may stay open while its client closes its side. */
const REFUSED_LINGER_MS = 1000;

/**
 * Closes a refused socket with a FIN, not a reset: what the client sent is read
 * and dropped first (closing with unread data makes the kernel send RST), so the
 * client sees the connection closed. The descriptor goes when the client closes
 * its side, or after a second at most.
 */
function refuseGently(socket: net.Socket): void {
  socket.on("error", () => {});
  socket.resume();
  socket.end();
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}

export function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
