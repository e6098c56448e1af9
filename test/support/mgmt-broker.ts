import { execFile } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import { runWarrenctl } from "../../src/cli/warrenctl.js";
import {
  type BrokerUnderTest,
  REPO_ROOT,
  type StartOptions,
  startBroker,
} from "./broker-process.js";

/** A port nobody listens on right now (the OS picks it; the test binds it soon after). */
export async function freePort(): Promise<number> {
  // The kernel may hand the same free port out twice (it is free again once closed): a
  // cluster test that asks for a node's AMQP, management and cluster ports must get three.
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Ports this test process was given already. */
const handedOut = new Set<number>();

/**
 * Claims a port the kernel gave a listener of the test itself (a TcpProxy on port 0): false
 * when freePort handed it out already (to a node that has not bound it yet), so the caller
 * listens elsewhere rather than take a node's port.
 */
export function claimPort(port: number): boolean {
  if (handedOut.has(port)) return false;
  handedOut.add(port);
  return true;
}

export interface MgmtBroker {
  readonly broker: BrokerUnderTest;
  /** http://127.0.0.1:<mgmt port> */
  readonly mgmtUrl: string;
  /** http://127.0.0.1:<prometheus port> */
  readonly metricsUrl: string;
  readonly mgmtPort: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * A real Warren process with its management API and metrics on free ports
 * (broker-process starts Warren with both off). Retries once if another test
 * took a port between picking and binding it.
 */
export async function startMgmtBroker(options: StartOptions = {}): Promise<MgmtBroker> {
  for (let attempt = 0; ; attempt++) {
    const mgmtPort = await freePort();
    const metricsPort = await freePort();
    try {
      const broker = await startBroker({
        ...options,
        args: [
          ...(options.args ?? []),
          "--mgmt-port",
          String(mgmtPort),
          "--prometheus-port",
          String(metricsPort),
        ],
      });
      return {
        broker,
        mgmtPort,
        metricsPort,
        mgmtUrl: `http://127.0.0.1:${mgmtPort}`,
        metricsUrl: `http://127.0.0.1:${metricsPort}`,
        stop: () => broker.stop(),
      };
    } catch (e) {
      if (attempt > 0 || !/EADDRINUSE/.test(String(e))) throw e;
    }
  }
}

export interface ApiResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** One management API request (guest/guest unless told otherwise). */
export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  credentials: [string, string] | null = ["guest", "guest"],
): Promise<ApiResult> {
  const headers: Record<string, string> = {};
  if (credentials) {
    headers.authorization = `Basic ${Buffer.from(credentials.join(":")).toString("base64")}`;
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // plain text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface CliRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Runs a program and collects its output; never rejects on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: options.timeoutMs ?? 30_000,
        killSignal: "SIGKILL",
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          reject(new Error(`${file} ${args.join(" ")} timed out: ${stderr}`));
          return;
        }
        const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
        resolve({ stdout, stderr, exitCode: Number.isNaN(code) ? 1 : code });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

export const WARRENCTL = join(REPO_ROOT, "bin/warrenctl.js");

/** Runs the real warrenctl (bin/warrenctl.js) against a node. */
export function warrenctl(
  mgmtUrl: string,
  args: readonly string[],
  input?: string,
): Promise<CliRun> {
  const target = mgmtUrl ? ["--url", mgmtUrl] : [];
  return run(process.execPath, [WARRENCTL, ...target, ...args], { input });
}

/** Runs a shell pipeline with $WARRENCTL pointing at the node, as the seed runbooks do. */
export function shell(mgmtUrl: string, script: string): Promise<CliRun> {
  return run("/bin/sh", ["-c", script], {
    env: { WARRENCTL: `${process.execPath} ${WARRENCTL} --url ${mgmtUrl}` },
  });
}

/**
 * warrenctl run in this process (the same code as bin/warrenctl.js without the
 * node start-up): for the many verb tests; the pipelines and lifecycle tests run
 * the real executable.
 */
export async function warrenctlInProcess(
  mgmtUrl: string,
  args: readonly string[],
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const exitCode = await runWarrenctl(
    ["--url", mgmtUrl, ...args],
    {},
    {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
    },
  );
  return { stdout, stderr, exitCode };
}
