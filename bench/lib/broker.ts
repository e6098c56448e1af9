/** The two brokers a scenario compares. */
export type BrokerKind = "warren" | "rabbitmq";

export const BROKER_NAMES: Record<BrokerKind, string> = {
  warren: "Warren",
  rabbitmq: "RabbitMQ",
};

/** A broker process the bench started, on its own port and data folder. */
export interface RunningBroker {
  readonly kind: BrokerKind;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The process that holds the messages (node for Warren, beam.smp for RabbitMQ). */
  readonly pid: number;
  /** Resident memory of the broker's processes, bytes. */
  rssBytes(): number;
  /** CPU seconds the broker's processes have used since they started. */
  cpuSeconds(): number;
  /** Graceful stop (SIGTERM), then SIGKILL after a timeout. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the data folder stays for a restart. */
  kill(): Promise<void>;
}

export interface BrokerStartOptions {
  /** Reuse this data folder (a restart); otherwise a fresh one under the bench's temp folder. */
  readonly dataDir?: string;
  readonly port?: number;
  readonly startTimeoutMs?: number;
  /** Warren only: the Node.js binary to run it with (default: the bench's own). */
  readonly node?: string;
}
