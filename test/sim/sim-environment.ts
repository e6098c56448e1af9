/**
 * A simulated node's environment as its RaftDriver sees it, through the driver's three
 * interfaces: a disk whose syncs take simulated time and may be cut short by a crash, the
 * seeded network, and a clock that ticks at the node's own rate. Each adapter belongs to one
 * incarnation of the node (its epoch): after a crash, nothing it scheduled reaches the driver.
 */
import type {
  MessageReceiver,
  PeerTransport,
  RaftLogWriter,
  SyncCallback,
  TickSource,
} from "../../src/cluster/index.js";
import type { GroupId, GroupMessage, NodeId } from "../../src/raft/index.js";
import type { RaftLogWrite } from "../../src/store/raft-log-image.js";
import type { SimNode, SimWorld } from "./sim-node.js";

/** The node's disk as the driver sees it: a sync takes simulated time and may be cut short. */
export class SimLog implements RaftLogWriter {
  constructor(
    private readonly node: SimNode,
    private readonly world: SimWorld,
    private readonly epoch: number,
  ) {}

  write(groupId: GroupId, writes: readonly RaftLogWrite[]): void {
    this.node.disk.write(groupId, writes);
  }

  sync(done: SyncCallback): void {
    const { queue, prng, settings } = this.world;
    const latencyMs = prng.between(settings.minDiskLatencyMs, settings.maxDiskLatencyMs);
    queue.after(latencyMs, () => {
      if (!this.node.alive(this.epoch)) return;
      this.node.disk.sync();
      // A crash may still land between the fdatasync and the sends.
      queue.after(prng.between(0, settings.maxSendDelayMs), () => {
        this.node.whenRunning(this.epoch, () => done(null));
      });
    });
  }
}

/** The seeded network as the driver sees it; messages are lost, delayed, duplicated there. */
export class SimTransport implements PeerTransport {
  private receiver: MessageReceiver = () => {};

  constructor(
    private readonly node: SimNode,
    private readonly world: SimWorld,
    private readonly epoch: number,
  ) {}

  send(to: NodeId, messages: readonly GroupMessage[]): void {
    for (const message of messages) this.world.network.send(this.node.id, to, message);
  }

  onReceive(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }

  deliver(message: GroupMessage): void {
    this.node.whenRunning(this.epoch, () => this.receiver([message]));
  }
}

/** The node's clock: ticks at its own rate; a paused process misses its ticks. */
export class SimClock implements TickSource {
  private running = false;

  constructor(
    private readonly node: SimNode,
    private readonly world: SimWorld,
    private readonly epoch: number,
  ) {}

  start(onTick: () => void): void {
    this.running = true;
    const next = () => {
      this.world.queue.after(this.node.tickMs, () => {
        if (!this.running || !this.node.alive(this.epoch)) return;
        if (!this.node.paused()) onTick();
        next();
      });
    };
    next();
  }

  stop(): void {
    this.running = false;
  }
}
