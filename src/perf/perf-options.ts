import { parseArgs } from "node:util";

export type ExchangeKind = "direct" | "fanout";
export type QueueType = "classic" | "quorum" | "stream";
/** A queue argument value as the load tool sends it in queue.declare. */
export type QueueArgValue = string | number | boolean;

/** Everything one `warren perf` run does. Rates are totals across publishers. */
export interface PerfOptions {
  readonly url: string;
  readonly publishers: number;
  readonly consumers: number;
  /** Message body size in bytes; 8 or more carries the send timestamp for latency. */
  readonly sizeBytes: number;
  /** Publisher confirms: the most unconfirmed messages per publisher; 0 = no confirms. */
  readonly confirmWindow: number;
  readonly persistent: boolean;
  readonly durable: boolean;
  readonly queueType: QueueType;
  readonly queueArgs: ReadonlyMap<string, QueueArgValue>;
  readonly queues: number;
  readonly queuePrefix: string;
  readonly exchange: ExchangeKind;
  /** Total messages per second across publishers; 0 = as fast as possible. */
  readonly ratePerS: number;
  readonly durationS: number;
  /** Stop publishing after this many messages in all (then wait for their confirms); 0 = no limit. */
  readonly count: number;
  /** basic.qos prefetch count per consumer; 0 sends no basic.qos (unlimited). */
  readonly prefetch: number;
  readonly autoAck: boolean;
  /** Manual ack: one basic.ack multiple=true every N messages; 1 acks each message. */
  readonly multiAckEvery: number;
  readonly heartbeatSec: number;
  /** Leave the queues and exchange in place at the end (otherwise they are deleted). */
  readonly keep: boolean;
  /** Do not declare or bind anything: the queues and exchange exist already. */
  readonly predeclared: boolean;
  readonly csvPath: string | undefined;
  readonly svgPath: string | undefined;
  readonly jsonPath: string | undefined;
  readonly quiet: boolean;
  readonly label: string | undefined;
}

export const PERF_USAGE = `Usage: warren perf [options]

Load generator for any AMQP 0-9-1 broker. Each publisher and each consumer has its own
connection. Prints a progress line each second on stderr and a JSON summary on stdout.

  --url URL               broker (default amqp://guest:guest@127.0.0.1:5672)
  -x, --publishers N      publishers (default 1)
  -y, --consumers N       consumers, spread over the queues round-robin (default 1)
  -s, --size BYTES        message body size (default 16; 8 or more carries a timestamp
                          for latency, smaller bodies give no latency figures)
  -c, --confirm N         publisher confirms with at most N unconfirmed per publisher
                          (default 0: no confirms)
  --persistent            delivery-mode 2 (persistent) messages
  --durable               durable queues and exchange (quorum and stream queues always are)
  --queue-type T          classic, quorum or stream (default classic; sets x-queue-type
                          unless classic)
  --queue-args K=V,...    extra queue arguments, e.g. x-max-length=1000,x-overflow=reject-publish
                          (integers and true/false are sent as such, the rest as strings)
  --queues N              number of queues (default 1)
  --queue-prefix P        queue names are P-1 .. P-N (default warren-perf)
  --exchange KIND         direct (each message to one queue, round-robin) or fanout
                          (each message to every queue) (default direct)
  -r, --rate N            total messages per second across publishers (default 0: as fast
                          as possible)
  -z, --duration S        seconds to run (default 10)
  --count N               publish N messages in all, wait for their confirms, then stop
                          (--duration is then an upper bound)
  -q, --prefetch N        basic.qos prefetch per consumer (default 0: no basic.qos)
  -a, --auto-ack          consumers use auto-ack (default: manual ack)
  --multi-ack-every N     manual ack: one multiple ack every N messages (default 1)
  --heartbeat S           heartbeat proposed by the client, seconds (default 60)
  --keep                  leave the queues and exchange at the end (default: delete them)
  --predeclared           declare nothing: queues (and the exchange) already exist
  --csv FILE              per-second figures as CSV
  --svg FILE              plot of rates and latency over time as SVG
  --json FILE             the final summary as JSON (also printed on stdout)
  --quiet                 no progress lines
  --label TEXT            a name for this run, kept in the summary
  -h, --help              this text
`;

/** A wrong flag or value: the CLI prints it with the usage text and exits 64. */
export class UsageError extends Error {}

function count(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`${name} must be an integer of at least ${min}, got '${raw}'`);
  }
  return n;
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${name} must be a positive number, got '${raw}'`);
  }
  return n;
}

function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (!(allowed as string[]).includes(raw)) {
    throw new UsageError(`${name} must be one of ${allowed.join(", ")}, got '${raw}'`);
  }
  return raw as T;
}

/** Parses `k=v,k=v`; integers and true/false become numbers and booleans. */
export function parseQueueArgs(raw: string | undefined): Map<string, QueueArgValue> {
  const args = new Map<string, QueueArgValue>();
  if (raw === undefined || raw.trim() === "") return args;
  for (const part of raw.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UsageError(`--queue-args expects KEY=VALUE pairs, got '${part}'`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (/^-?\d+$/.test(value)) args.set(key, Number(value));
    else if (value === "true" || value === "false") args.set(key, value === "true");
    else args.set(key, value);
  }
  return args;
}

function checkUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url is not a URL: '${raw}'`);
  }
  if (u.protocol !== "amqp:") throw new UsageError(`--url must start with amqp://, got '${raw}'`);
  return raw;
}

/** Command-line flags to options; "help" for --help. Throws UsageError on bad input. */
export function parsePerfArgs(argv: readonly string[]): PerfOptions | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: "string" },
        publishers: { type: "string", short: "x" },
        consumers: { type: "string", short: "y" },
        size: { type: "string", short: "s" },
        confirm: { type: "string", short: "c" },
        persistent: { type: "boolean" },
        durable: { type: "boolean" },
        "queue-type": { type: "string" },
        "queue-args": { type: "string" },
        queues: { type: "string" },
        "queue-prefix": { type: "string" },
        exchange: { type: "string" },
        rate: { type: "string", short: "r" },
        duration: { type: "string", short: "z" },
        count: { type: "string" },
        prefetch: { type: "string", short: "q" },
        "auto-ack": { type: "boolean", short: "a" },
        "multi-ack-every": { type: "string" },
        heartbeat: { type: "string" },
        keep: { type: "boolean" },
        predeclared: { type: "boolean" },
        csv: { type: "string" },
        svg: { type: "string" },
        json: { type: "string" },
        quiet: { type: "boolean" },
        label: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  const str = (k: string) => values[k] as string | undefined;
  const queueType = oneOf(
    "--queue-type",
    str("queue-type"),
    ["classic", "quorum", "stream"],
    "classic",
  );
  const queueArgs = parseQueueArgs(str("queue-args"));
  if (queueType !== "classic") queueArgs.set("x-queue-type", queueType);
  const options: PerfOptions = {
    url: checkUrl(str("url") ?? "amqp://guest:guest@127.0.0.1:5672"),
    publishers: count("--publishers", str("publishers"), 1),
    consumers: count("--consumers", str("consumers"), 1),
    sizeBytes: count("--size", str("size"), 16),
    confirmWindow: count("--confirm", str("confirm"), 0),
    persistent: values.persistent === true,
    // Quorum and stream queues exist only as durable queues (RabbitMQ refuses others).
    durable: values.durable === true || queueType !== "classic",
    queueType,
    queueArgs,
    queues: count("--queues", str("queues"), 1, 1),
    queuePrefix: str("queue-prefix") ?? "warren-perf",
    exchange: oneOf("--exchange", str("exchange"), ["direct", "fanout"], "direct"),
    ratePerS: count("--rate", str("rate"), 0),
    durationS: positiveNumber("--duration", str("duration"), 10),
    count: count("--count", str("count"), 0),
    prefetch: count("--prefetch", str("prefetch"), 0),
    autoAck: values["auto-ack"] === true,
    multiAckEvery: count("--multi-ack-every", str("multi-ack-every"), 1, 1),
    heartbeatSec: count("--heartbeat", str("heartbeat"), 60),
    keep: values.keep === true,
    predeclared: values.predeclared === true,
    csvPath: str("csv"),
    svgPath: str("svg"),
    jsonPath: str("json"),
    quiet: values.quiet === true,
    label: str("label"),
  };
  return validate(options);
}

function validate(o: PerfOptions): PerfOptions {
  if (o.publishers === 0 && o.consumers === 0) {
    throw new UsageError("nothing to do: --publishers and --consumers are both 0");
  }
  if (o.confirmWindow > 1_000_000) {
    throw new UsageError("--confirm must be at most 1000000");
  }
  if (!o.autoAck && o.prefetch > 0 && o.multiAckEvery > o.prefetch) {
    // The consumer would wait for an ack it never sends once prefetch is reached.
    throw new UsageError(
      `--multi-ack-every (${o.multiAckEvery}) must not exceed --prefetch (${o.prefetch})`,
    );
  }
  if (o.autoAck && o.multiAckEvery > 1) {
    throw new UsageError("--multi-ack-every applies to manual ack only, not with --auto-ack");
  }
  if (o.count > 0 && o.publishers === 0) {
    throw new UsageError("--count needs at least one publisher");
  }
  if (o.queueType === "stream" && (o.autoAck || o.prefetch === 0) && o.consumers > 0) {
    throw new UsageError("stream queues need manual ack and a --prefetch (RabbitMQ's rule)");
  }
  return o;
}

/** The URL without its password, for summaries and logs. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}
