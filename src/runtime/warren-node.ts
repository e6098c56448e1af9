import { mkdirSync } from "node:fs";
import type { Log } from "../log.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import { Broker } from "../vhost/broker.js";
import type { BrokerSettings } from "../vhost/broker-settings.js";
import { AmqpListener, type ListenAddress } from "./amqp-listener.js";
import { FlushScheduler } from "./flush-scheduler.js";

export interface NodeOptions {
  readonly settings: BrokerSettings;
  readonly listen: readonly ListenAddress[];
  readonly dataDir: string;
  readonly log: Log;
  /** How often connections are ticked for heartbeats and timeouts. */
  readonly tickMs?: number;
}

/**
 * A running Warren node: the broker state plus the runtime that drives it
 * (listeners, flushing, the clock tick). The only place that owns timers.
 */
export class WarrenNode {
  readonly broker: Broker;
  readonly listener: AmqpListener;
  private readonly flusher: FlushScheduler;
  private ticker: NodeJS.Timeout | undefined;

  constructor(readonly options: NodeOptions) {
    this.broker = new Broker(options.settings, options.log);
    this.flusher = new FlushScheduler(this.broker);
    this.listener = new AmqpListener(this.broker, this.flusher);
  }

  async start(): Promise<void> {
    mkdirSync(this.options.dataDir, { recursive: true });
    await this.listener.listen(this.options.listen);
    const tickMs = this.options.tickMs ?? 200;
    this.ticker = setInterval(() => this.tick(), tickMs);
  }

  private tick(): void {
    const now = this.broker.clock();
    for (const conn of this.listener.sockets.values()) conn.tick(now);
  }

  /** Stops listening and closes every connection with 320 CONNECTION_FORCED, as RabbitMQ does on shutdown. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    // net.Server.close() waits for every connection to end, so close them meanwhile.
    const closed = this.listener.close();
    for (const conn of [...this.listener.sockets.values()]) {
      if (conn.state === "open") {
        conn.close(
          ReplyCode.CONNECTION_FORCED,
          "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
        );
      }
    }
    // Give the close frames a moment to leave, then drop what is left.
    await new Promise((r) => setTimeout(r, 100));
    for (const socket of this.listener.sockets.keys()) socket.destroy();
    await closed;
  }
}
