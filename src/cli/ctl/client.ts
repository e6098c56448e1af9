import { CtlError, EXIT, flagString, type ParsedArgs, usageError } from "./args.js";

/** Where warrenctl finds the node, and as whom it asks. */
export interface Target {
  /** Base URL of the management API, without /api. */
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  /** What messages call the node until it tells its own name. */
  readonly label: string;
  readonly timeoutMs: number;
}

const DEFAULT_URL = "http://127.0.0.1:15672";

/**
 * The node to talk to: --url, or --node (warren@host, host, or host:port, as
 * rabbitmqctl -n names a node), or WARRENCTL_URL, else the local node on 15672
 * with guest/guest (which only works from loopback, as for RabbitMQ).
 */
export function resolveTarget(args: ParsedArgs, env: NodeJS.ProcessEnv): Target {
  let url = flagString(args, "url") ?? env.WARRENCTL_URL;
  const node = flagString(args, "node") ?? env.WARRENCTL_NODE;
  if (!url && node) {
    const host = node.includes("@") ? node.slice(node.indexOf("@") + 1) : node;
    url = /:\d+$/.test(host) ? `http://${host}` : `http://${host}:15672`;
  }
  url ??= DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`not a URL: ${url}`);
  }
  const username =
    flagString(args, "username") ??
    (parsed.username ? decodeURIComponent(parsed.username) : undefined) ??
    env.WARRENCTL_USERNAME ??
    "guest";
  const password =
    flagString(args, "password") ??
    (parsed.password ? decodeURIComponent(parsed.password) : undefined) ??
    env.WARRENCTL_PASSWORD ??
    "guest";
  parsed.username = "";
  parsed.password = "";
  const timeoutSec = Number(flagString(args, "timeout") ?? 60);
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw usageError("--timeout must be > 0");
  const baseUrl = parsed.toString().replace(/\/+$/, "");
  return {
    baseUrl,
    username,
    password,
    label: node ?? parsed.host,
    timeoutMs: timeoutSec * 1000,
  };
}

/** A management API answer. */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** Percent-encodes a path segment as the API expects (a vhost "/" is "%2F"). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

/** An HTTP client of the node's management API (what warrenctl uses to reach the node). */
export class MgmtClient {
  constructor(readonly target: Target) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const t = this.target;
    const auth = Buffer.from(`${t.username}:${t.password}`).toString("base64");
    let res: Response;
    try {
      res = await fetch(`${t.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Basic ${auth}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(t.timeoutMs),
      });
    } catch (e) {
      throw unreachable(t, e as Error);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a 404 from something else, or plain text): keep the text.
    }
    return { status: res.status, body: parsed, text } satisfies ApiResponse;
  }

  /** A request that must succeed; any 4xx/5xx becomes a CtlError with the API's reason. */
  async call(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
    const r = await this.request(method, path, body, headers);
    if (r.status >= 400) throw apiError(r);
    return r.body;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call("GET", path) as Promise<T>;
  }
}

function unreachable(t: Target, e: Error): CtlError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (e.name === "TimeoutError") {
    return new CtlError(
      EXIT.timeout,
      `Error: operation on node ${t.label} timed out after ${t.timeoutMs / 1000} s`,
    );
  }
  return new CtlError(
    EXIT.unavailable,
    `Error: unable to perform an operation on node '${t.label}' (${t.baseUrl}): ${cause?.code ?? cause?.message ?? e.message}\n\n` +
      "Most common reasons for this are:\n\n" +
      " * Target node is not running\n" +
      " * Its management listener is disabled (--mgmt-port 0) or on another port (use --url)\n" +
      " * A firewall blocks the management port\n",
  );
}

/** The API's {"error","reason"} as warrenctl prints it. */
export function apiError(r: ApiResponse): CtlError {
  const body = r.body as { error?: string; reason?: string } | undefined;
  const reason = body?.reason ?? r.text ?? `HTTP ${r.status}`;
  if (r.status === 401) return new CtlError(EXIT.software, `Error: access refused: ${reason}`);
  if (r.status === 404) return new CtlError(EXIT.software, `Error: not found: ${reason}`);
  return new CtlError(EXIT.software, `Error: ${reason}`);
}
