import type { User } from "../../vhost/users.js";

/** One HTTP request as the handlers see it: no sockets, the body already read. */
export interface HttpRequest {
  readonly method: string;
  /** The raw (still percent-encoded) path, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The client's address, for the loopback-only users (RabbitMQ loopback_users). */
  readonly peerAddress: string;
}

/** A request that passed the router and the authentication. */
export interface ApiRequest extends HttpRequest {
  /** Path parameters, percent-decoded (so a vhost named "/" arrives from "%2F"). */
  readonly params: Readonly<Record<string, string>>;
  /** The authenticated user; undefined only on routes that need no login. */
  readonly user: User | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string or Buffer is sent as is; anything else as JSON. */
  readonly body?: unknown;
}

export type Handler = (req: ApiRequest) => HttpResponse | Promise<HttpResponse>;

export function json(body: unknown, status = 200): HttpResponse {
  return { status, body };
}

export const NO_CONTENT: HttpResponse = { status: 204 };
export const CREATED: HttpResponse = { status: 201 };

/** The JSON body of a request, or a 400 in RabbitMQ's words when it is not JSON. */
export function jsonBody(req: HttpRequest): Record<string, unknown> {
  const text = req.body.toString("utf8").trim();
  if (text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, "bad_request", "not_json");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new HttpError(400, "bad_request", "not_json");
  }
  return parsed as Record<string, unknown>;
}

/**
 * An error with RabbitMQ's management JSON shape: {"error": ..., "reason": ...}.
 * The `error` words are RabbitMQ's ("Object Not Found", "bad_request", "not_authorised").
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(`${status} ${error}: ${reason}`);
  }

  toResponse(): HttpResponse {
    return { status: this.status, body: { error: this.error, reason: this.reason } };
  }
}

export const notFound = () => new HttpError(404, "Object Not Found", "Not Found");
export const badRequest = (reason: string) => new HttpError(400, "bad_request", reason);

/** RabbitMQ accepts booleans as JSON booleans or as the strings rabbitmqadmin sends ("true"). */
export function boolField(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null || v === "") return fallback;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw badRequest(`${key} must be a boolean, got ${JSON.stringify(v)}`);
}

export function stringField(body: Record<string, unknown>, key: string, fallback?: string): string {
  const v = body[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw badRequest(`${key} is required`);
  }
  if (typeof v !== "string") throw badRequest(`${key} must be a string`);
  return v;
}

/** An integer field that rabbitmqadmin may send as a string ("count": "1"). */
export function intField(body: Record<string, unknown>, key: string, fallback: number): number {
  const v = body[key];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw badRequest(`${key} must be an integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An object field such as "arguments" (absent means empty). */
export function objectField(
  body: Record<string, unknown>,
  key: string,
): Record<string, unknown> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  // RabbitMQ writes an empty Erlang proplist as [], and clients echo it back.
  if (Array.isArray(v) && v.length === 0) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest(`${key} must be an object`);
  return v as Record<string, unknown>;
}
