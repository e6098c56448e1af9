import http from "node:http";
import type net from "node:net";
import type { Log } from "../../log.js";
import { formatHost, type ListenAddress } from "../../runtime/amqp-listener.js";
import { HttpError, type HttpRequest, type HttpResponse } from "./http-types.js";

/** Largest request body accepted (a definitions file or a published message). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * A body over the limit is read and dropped up to this size so that the 413 reaches
 * the client (closing a socket with unread data resets it, and the answer is lost);
 * beyond it the connection is simply closed.
 */
const MAX_DRAINED_BYTES = 4 * MAX_BODY_BYTES;

/** The client closed its connection before the request was complete: nobody to answer. */
class ClientGone extends Error {}

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
      if (e instanceof ClientGone) {
        this.log.debug(
          { url: req.url, method: req.method, reason: e.message },
          `${this.name}: client closed the connection before sending all of ${req.method} ${req.url}`,
        );
        res.destroy();
        return;
      }
      if (e instanceof HttpError) {
        response = e.toResponse();
        if (e.status === 413)
          this.log.warn(
            { url: req.url, method: req.method, limit: MAX_BODY_BYTES },
            `${this.name}: refused ${req.method} ${req.url}: request body larger than ${MAX_BODY_BYTES} bytes`,
          );
      } else {
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
    let chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_DRAINED_BYTES) {
        reject(new ClientGone(`sent more than ${MAX_DRAINED_BYTES} bytes`));
        req.destroy();
      } else if (size > MAX_BODY_BYTES) chunks = [];
      else chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY_BYTES)
        reject(new HttpError(413, "bad_request", "request body too large"));
      else resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => reject(new ClientGone(e.message)));
    req.on("close", () => {
      if (!req.complete) reject(new ClientGone("connection closed"));
    });
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
