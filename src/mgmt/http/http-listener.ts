import http from "node:http";
import type net from "node:net";
import type { Log } from "../../log.js";
import { formatHost, type ListenAddress } from "../../runtime/amqp-listener.js";
import { HttpError, type HttpRequest, type HttpResponse } from "./http-types.js";

/** Largest request body accepted (a definitions file or a published message). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export type Dispatch = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * A node:http server that turns each request into an HttpRequest, hands it to a
 * dispatch function and writes the HttpResponse: the only socket code of the
 * management and metrics layers.
 */
export class HttpListener {
  readonly servers: http.Server[] = [];
  readonly bound: ListenAddress[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly name: string,
    private readonly dispatch: Dispatch,
    private readonly log: Log,
  ) {}

  /** Listens on every address; as for AMQP, a host without IPv6 skips ::1. */
  async listen(addresses: readonly ListenAddress[]): Promise<void> {
    for (const address of addresses) {
      const server = http.createServer((req, res) => void this.handle(req, res));
      server.on("connection", (socket) => {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ host: address.host, port: address.port }, () => {
            server.off("error", reject);
            resolve();
          });
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (address.host === "::1" && (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT")) {
          continue;
        }
        throw new Error(
          `${this.name}: cannot listen on ${formatHost(address.host)}:${address.port}: ${(e as Error).message}`,
        );
      }
      const port = (server.address() as net.AddressInfo).port;
      this.servers.push(server);
      this.bound.push({ host: address.host, port });
      this.log.info(
        { host: address.host, port, protocol: this.name },
        `started ${this.name} listener on ${formatHost(address.host)}:${port}`,
      );
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(
      this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let response: HttpResponse;
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? "/", "http://localhost");
      response = await this.dispatch({
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        peerAddress: req.socket.remoteAddress ?? "",
      });
    } catch (e) {
      if (e instanceof HttpError) response = e.toResponse();
      else {
        this.log.error(
          { err: String(e), stack: (e as Error).stack, url: req.url, method: req.method },
          `${this.name}: internal error answering ${req.method} ${req.url}`,
        );
        response = {
          status: 500,
          body: { error: "Internal Server Error", reason: (e as Error).message },
        };
      }
    }
    write(res, response, req.method === "HEAD");
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "bad_request", "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function write(res: http.ServerResponse, r: HttpResponse, headOnly: boolean): void {
  let payload: Buffer | undefined;
  const headers: Record<string, string> = { ...r.headers };
  if (r.body === undefined) payload = undefined;
  else if (Buffer.isBuffer(r.body)) payload = r.body;
  else if (typeof r.body === "string") payload = Buffer.from(r.body);
  else {
    payload = Buffer.from(JSON.stringify(r.body));
    headers["content-type"] ??= "application/json";
  }
  headers["content-length"] = String(payload?.length ?? 0);
  headers["cache-control"] ??= "no-cache";
  res.writeHead(r.status, headers);
  res.end(headOnly ? undefined : payload);
}
