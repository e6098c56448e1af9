import type { Access } from "./auth.js";
import { badRequest, type Handler } from "./http-types.js";

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly access: Access;
  readonly handler: Handler;
}

export type RouteMatch =
  | { readonly kind: "found"; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: "method-not-allowed"; readonly allowed: string[] }
  | { readonly kind: "not-found" };

/**
 * A small path router: patterns like "/api/queues/:vhost/:name/get". Paths are split
 * on "/" before percent-decoding, so a vhost named "/" (sent as "%2F") stays one
 * segment, as in RabbitMQ's API. Routes are tried in the order they were added.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, access: Access, handler: Handler): this {
    this.routes.push({ method, segments: split(pattern), access, handler });
    return this;
  }

  get(pattern: string, access: Access, handler: Handler): this {
    return this.add("GET", pattern, access, handler);
  }

  put(pattern: string, access: Access, handler: Handler): this {
    return this.add("PUT", pattern, access, handler);
  }

  post(pattern: string, access: Access, handler: Handler): this {
    return this.add("POST", pattern, access, handler);
  }

  delete(pattern: string, access: Access, handler: Handler): this {
    return this.add("DELETE", pattern, access, handler);
  }

  match(method: string, rawPath: string): RouteMatch {
    const parts = split(rawPath);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      // HEAD is answered as GET without a body.
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { kind: "found", route, params };
      }
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "not-found" };
  }
}

function split(path: string): string[] {
  const trimmed = path.replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed === "" ? [] : trimmed.split("/");
}

function matchSegments(
  pattern: readonly string[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const part = parts[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = decode(part);
    else if (p !== part) return undefined;
  }
  return params;
}

function decode(segment: string): string {
  try {
    // RabbitMQ's paths are URL-encoded with quote_plus by some clients: "+" is a space.
    return decodeURIComponent(segment.replace(/\+/g, "%20"));
  } catch {
    throw badRequest(`malformed path segment '${segment}'`);
  }
}
