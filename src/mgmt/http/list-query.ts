import { patternProblem } from "../../vhost/pattern-safety.js";
import { badRequest, type HttpResponse, json } from "./http-types.js";

type Item = Record<string, unknown>;

/**
 * A dotted path into an object: "message_stats.publish". Only own properties count,
 * so a column or sort key such as "__proto__.x" or "constructor.name" names nothing.
 */
function pick(item: Item, path: string): unknown {
  let v: unknown = item;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, key)) return undefined;
    v = (v as Item)[key];
  }
  return v;
}

/** Sets a dotted path in `out`, making own properties all the way down (never a prototype). */
function place(out: Item, path: string, value: unknown): void {
  const keys = path.split(".");
  let at = out;
  for (const key of keys.slice(0, -1)) {
    if (!Object.hasOwn(at, key) || typeof at[key] !== "object" || at[key] === null)
      Object.defineProperty(at, key, { value: {}, enumerable: true, writable: true });
    at = at[key] as Item;
  }
  Object.defineProperty(at, keys[keys.length - 1]!, { value, enumerable: true, writable: true });
}

/** Keeps only the requested columns (RabbitMQ's ?columns=name,messages), dotted paths allowed. */
export function selectColumns(item: Item, columns: readonly string[]): Item {
  const out: Item = {};
  for (const c of columns) {
    const v = pick(item, c);
    if (v !== undefined) place(out, c, v);
  }
  return out;
}

/** An object as JSON: String() of one with its own "toString" key (user arguments) throws. */
const text = (v: unknown) => (typeof v === "object" ? JSON.stringify(v) : String(v));

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : -1;
  if (b === undefined || b === null) return 1;
  return text(a).localeCompare(text(b));
}

/**
 * RabbitMQ's list query parameters: name (with use_regex), sort, sort_reverse,
 * columns, and pagination (page, page_size), which changes the reply into
 * {items, page, page_count, ...}.
 */
export function listResponse(items: Item[], query: URLSearchParams): HttpResponse {
  let list = items;
  const total = list.length;
  const name = query.get("name");
  if (name) {
    let matches: (s: string) => boolean;
    if (query.get("use_regex") === "true") {
      let re: RegExp;
      try {
        re = new RegExp(name);
      } catch {
        throw badRequest(`invalid regular expression '${name}'`);
      }
      const problem = patternProblem(name);
      if (problem) throw badRequest(problem);
      matches = (s) => re.test(s);
    } else {
      const needle = name.toLowerCase();
      matches = (s) => s.toLowerCase().includes(needle);
    }
    list = list.filter((i) => matches(String(i.name ?? "")));
  }
  const sort = query.get("sort");
  if (sort) list = [...list].sort((a, b) => compare(pick(a, sort), pick(b, sort)));
  if (query.get("sort_reverse") === "true") list = [...list].reverse();
  const columns = query.get("columns");
  if (columns) {
    const cols = columns.split(",").filter((c) => c !== "");
    list = list.map((i) => selectColumns(i, cols));
  }
  const pageParam = query.get("page");
  if (pageParam === null) return json(list);
  const page = Number(pageParam);
  const pageSize = Number(query.get("page_size") ?? "100");
  if (!Number.isInteger(page) || page < 1) throw badRequest("page must be a positive integer");
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500)
    throw badRequest("page_size must be between 1 and 500");
  const pageCount = Math.max(1, Math.ceil(list.length / pageSize));
  const pageItems = list.slice((page - 1) * pageSize, page * pageSize);
  return json({
    filtered_count: list.length,
    item_count: pageItems.length,
    items: pageItems,
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: total,
  });
}
