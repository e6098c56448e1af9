/**
 * Peers made by hand from the transport's pure parts, to do what a real node never does:
 * send a damaged frame after an honest handshake, or stop reading once connected.
 */
import net from "node:net";
import { encodeFrame, FrameDecoder } from "../../../../src/cluster/transport/frame-codec.js";
import type { HandshakeRole } from "../../../../src/cluster/transport/handshake-machine.js";
import { HandshakeMachine } from "../../../../src/cluster/transport/handshake-machine.js";
import type { PeerAddress } from "../../../../src/cluster/transport/index.js";
import type { NodeId } from "../../../../src/raft/index.js";
import { seededRandom } from "./transport-fixtures.js";

const random = seededRandom(99);

/** Runs the handshake on an open socket; resolves once both sides are proven. */
function handshake(
  socket: net.Socket,
  role: HandshakeRole,
  name: NodeId,
  secret: string,
  expectedPeer?: NodeId,
): Promise<void> {
  const machine = new HandshakeMachine({
    role,
    localName: name,
    secret: Buffer.from(secret),
    nonce: random.bytes(32),
    expectedPeer,
  });
  const decoder = new FrameDecoder(4_096);
  const write = (frames: readonly { type: number; payload: Buffer }[]) => {
    for (const f of frames) socket.write(Buffer.concat(encodeFrame(f.type, f.payload)));
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      decoder.push(chunk);
      for (let d = decoder.next(); d !== null; d = decoder.next()) {
        if (d.defect !== undefined) return reject(new Error(d.defect.kind));
        const step = machine.receive(d.frame);
        write(step.send);
        if (step.outcome?.ok === false) return reject(new Error(step.outcome.detail));
        if (step.outcome?.ok) {
          socket.off("data", onData);
          return resolve();
        }
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    write(machine.start());
  });
}

/** Dials a node and proves itself as `name`; the socket is then free for raw frames. */
export async function dialAs(
  target: PeerAddress,
  targetName: NodeId,
  name: NodeId,
  secret: string,
): Promise<net.Socket> {
  const socket = net.connect(target.port, target.host);
  await new Promise<void>((resolve, reject) =>
    socket.once("connect", resolve).once("error", reject),
  );
  await handshake(socket, "dialer", name, secret, targetName);
  return socket;
}

/** A listener that completes the handshake as `name`, then never reads another byte. */
export class StuckPeer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  address: PeerAddress = { host: "127.0.0.1", port: 0 };

  constructor(name: NodeId, secret: string) {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on("error", () => {});
      handshake(socket, "listener", name, secret).then(
        () => socket.pause(),
        () => socket.destroy(),
      );
    });
  }

  async start(): Promise<PeerAddress> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.address = { host: "127.0.0.1", port: (this.server.address() as net.AddressInfo).port };
    return this.address;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
