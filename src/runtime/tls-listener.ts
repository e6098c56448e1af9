import { readFileSync } from "node:fs";
import type net from "node:net";
import tls from "node:tls";
import type { PeerCertificate } from "../connection/amqp-connection.js";
import { certificateSubject } from "../connection/certificate-subject.js";
import type { Broker } from "../vhost/broker.js";
import { type AmqpListener, formatHost, type ListenAddress } from "./amqp-listener.js";

/**
 * Client certificate verification, RabbitMQ's ssl_options: "none" is verify_none;
 * "peer" is verify_peer (a certificate is asked for and must verify if sent);
 * "peer-required" adds fail_if_no_peer_cert (a client without one is refused).
 */
export type TlsVerify = "none" | "peer" | "peer-required";

export interface TlsOptions {
  readonly listen: readonly ListenAddress[];
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle that client certificates must chain to (required unless verify is "none"). */
  readonly caFile?: string;
  readonly verify: TlsVerify;
}

/**
 * The amqps listeners (RabbitMQ's 5671). TLS ends here: each socket that completes
 * its handshake is handed to the AmqpListener as any other connection, with what
 * its certificate proved (for the EXTERNAL mechanism).
 */
export class TlsListener {
  readonly servers: tls.Server[] = [];
  readonly bound: ListenAddress[] = [];
  /**
   * Each TCP peer as it connects (a socket TLS refused can no longer say who it was),
   * or null for one the node refused before its handshake (already logged).
   */
  private readonly tcpPeers = new WeakMap<net.Socket, string | null>();

  constructor(
    private readonly broker: Broker,
    private readonly amqp: AmqpListener,
    private readonly options: TlsOptions,
  ) {}

  async listen(): Promise<void> {
    const { options } = this;
    // Read once at start: a missing or unreadable file stops the node with its path in the error.
    const secure: tls.TlsOptions = {
      cert: readFileSync(options.certFile),
      key: readFileSync(options.keyFile),
      ca: options.caFile ? readFileSync(options.caFile) : undefined,
      requestCert: options.verify !== "none",
      rejectUnauthorized: options.verify === "peer-required",
      handshakeTimeout: this.broker.settings.handshakeTimeoutMs,
    };
    // Port 0 picks a free port for the first address and reuses it for the others.
    let chosenPort = 0;
    for (const requested of options.listen) {
      const address =
        requested.port === 0 && chosenPort !== 0 ? { ...requested, port: chosenPort } : requested;
      const server = tls.createServer(secure, (socket) => this.accept(socket));
      server.on("connection", (tcp: net.Socket) => {
        // The node's descriptor limit applies before the handshake, so refusing costs no TLS
        // work. (An address cooling off after failed logins is refused later, at its login,
        // with 403: a refusal here could only be a reset in the middle of the handshake.)
        const admitted = this.amqp.admit(tcp);
        this.tcpPeers.set(tcp, admitted ? `${tcp.remoteAddress}:${tcp.remotePort}` : null);
      });
      server.on("tlsClientError", (err, socket) => this.handshakeFailed(err, socket));
      if (!(await this.bind(server, address))) continue;
      const port = (server.address() as net.AddressInfo).port;
      chosenPort ||= port;
      this.servers.push(server);
      this.bound.push({ host: address.host, port });
      this.broker.log.info(
        {
          host: address.host,
          port,
          protocol: "amqp/ssl",
          verify: options.verify,
          authMechanisms: this.broker.settings.authMechanisms,
        },
        `started TLS (SSL) listener on ${formatHost(address.host)}:${port}`,
      );
    }
  }

  /** False when the address is IPv6 loopback on a host without IPv6 (the IPv4 listener is enough). */
  private async bind(server: tls.Server, address: ListenAddress): Promise<boolean> {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: address.host, port: address.port, backlog: 1024 }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (address.host === "::1" && (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT")) {
        this.broker.log.warn({ host: address.host, code }, "IPv6 loopback not available for TLS");
        return false;
      }
      throw e;
    }
  }

  private accept(socket: tls.TLSSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const cert = this.options.verify === "none" ? undefined : socket.getPeerCertificate();
    const presented = cert !== undefined && cert !== null && Object.keys(cert).length > 0;
    if (presented && !socket.authorized) {
      // verify_peer without fail_if_no_peer_cert: no certificate is fine, a bad one is not.
      this.broker.log.warn(
        { peer, reason: String(socket.authorizationError) },
        `TLS client certificate from ${peer} refused: ${String(socket.authorizationError)}`,
      );
      socket.destroy();
      return;
    }
    this.amqp.accept(socket, {
      tls: true,
      peerCertificate: presented ? peerCertificateOf(cert) : undefined,
    });
  }

  /**
   * A handshake that failed: bad TLS, a timeout, or (peer-required) a missing or
   * unverifiable client certificate, which Node reports as the reason here.
   */
  private handshakeFailed(err: Error, socket: tls.TLSSocket): void {
    // A socket refused for its certificate is already destroyed; its TCP socket still knows the peer.
    const tcp = (socket as unknown as { _parent?: net.Socket })._parent;
    if (tcp && this.tcpPeers.get(tcp) === null) return;
    const peer = socket.remoteAddress
      ? `${socket.remoteAddress}:${socket.remotePort}`
      : ((tcp && this.tcpPeers.get(tcp)) ?? "unknown peer");
    const reason = socket.authorizationError
      ? `client certificate refused: ${String(socket.authorizationError)}`
      : err.message.trim();
    this.broker.log.warn(
      { peer, code: (err as NodeJS.ErrnoException).code, reason },
      `TLS server: error during handshake with ${peer}: ${reason}`,
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }
}

/**
 * The names EXTERNAL can log in with, read from the certificate's DER as RabbitMQ reads
 * them (rabbit_ssl:peer_cert_auth_name): the subject DN, and the CNs joined with ",".
 */
function peerCertificateOf(cert: tls.PeerCertificate): PeerCertificate {
  const subject = certificateSubject(cert.raw);
  const cns = subject?.commonNames ?? [];
  return {
    commonName: cns.length > 0 ? cns.join(",") : undefined,
    distinguishedName: subject?.distinguishedName,
  };
}
