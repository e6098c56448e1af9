import { HttpError, type HttpRequest } from "./http-types.js";

/** How long one slice of parsing may hold the event loop. */
const SLICE_MS = 5;

/**
 * The JSON object body of a request, parsed a slice at a time: JSON.parse of a 4 MB
 * definitions file (20,000 queues and their bindings) holds the event loop for 40 to
 * 100 ms, and a large deployment's definitions are ten times that. The members of the
 * top-level object, and the elements of those that are arrays (exchanges, queues,
 * bindings, ...), are each given to JSON.parse on their own, and the event loop is
 * yielded between them once a slice has run for a few milliseconds. The result equals
 * JSON.parse's; anything JSON.parse would refuse is refused with RabbitMQ's 400
 * "not_json", as `jsonBody` does.
 */
export async function jsonBodyInSlices(req: HttpRequest): Promise<Record<string, unknown>> {
  const text = req.body.toString("utf8").trim();
  if (text === "") return {};
  const parsed = await parseObjectInSlices(text);
  if (parsed === undefined) throw new HttpError(400, "bad_request", "not_json");
  return parsed;
}

/** A JSON object's text parsed in slices; undefined when it is not a JSON object. */
export async function parseObjectInSlices(
  text: string,
  yieldNow: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve)),
): Promise<Record<string, unknown> | undefined> {
  const scan = new Scanner(text);
  let sliceStart = performance.now();
  let sinceCheck = 0;
  const maybeYield = async () => {
    if (++sinceCheck < 64) return;
    sinceCheck = 0;
    if (performance.now() - sliceStart < SLICE_MS) return;
    await yieldNow();
    sliceStart = performance.now();
  };
  try {
    const out: Record<string, unknown> = {};
    if (!scan.take("{")) return undefined;
    if (!scan.take("}")) {
      do {
        const key = JSON.parse(text.slice(scan.at, scan.valueEnd())) as unknown;
        if (typeof key !== "string" || !scan.take(":")) return undefined;
        let value: unknown;
        if (scan.take("[")) {
          const items: unknown[] = [];
          if (!scan.take("]")) {
            do {
              items.push(JSON.parse(text.slice(scan.at, scan.valueEnd())));
              await maybeYield();
            } while (scan.take(","));
            if (!scan.take("]")) return undefined;
          }
          value = items;
        } else {
          value = JSON.parse(text.slice(scan.at, scan.valueEnd()));
        }
        // As JSON.parse: an own property even for "__proto__", the last duplicate wins.
        Object.defineProperty(out, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        await maybeYield();
      } while (scan.take(","));
      if (!scan.take("}")) return undefined;
    }
    return scan.atEnd() ? out : undefined;
  } catch {
    // JSON.parse refused a member, or the scanner ran off the end.
    return undefined;
  }
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Finds where JSON values end without building them: strings (with their escapes)
 * and brackets are followed; what is inside a value is JSON.parse's to check.
 */
class Scanner {
  at = 0;

  constructor(private readonly text: string) {}

  private skipWhitespace(): void {
    while (this.at < this.text.length && WHITESPACE.has(this.text.charCodeAt(this.at))) this.at++;
  }

  /** Consumes `char` (after whitespace) if it comes next. */
  take(char: string): boolean {
    this.skipWhitespace();
    if (this.text[this.at] !== char) return false;
    this.at++;
    this.skipWhitespace();
    return true;
  }

  atEnd(): boolean {
    this.skipWhitespace();
    return this.at === this.text.length;
  }

  /** The end of the value that starts here (exclusive); `at` moves past it. */
  valueEnd(): number {
    const t = this.text;
    let i = this.at;
    const first = t[i];
    if (first === '"') {
      i = this.stringEnd(i);
    } else if (first === "{" || first === "[") {
      let depth = 0;
      for (; i < t.length; i++) {
        const c = t[i];
        if (c === '"') i = this.stringEnd(i) - 1;
        else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") {
          if (--depth === 0) {
            i++;
            break;
          }
        }
      }
      if (depth !== 0) throw new SyntaxError("unterminated value");
    } else {
      // A number, true, false or null: up to the next delimiter.
      while (i < t.length && !",]}".includes(t[i]!) && !WHITESPACE.has(t.charCodeAt(i))) i++;
    }
    if (i === this.at) throw new SyntaxError("value expected");
    this.at = i;
    return i;
  }

  /** Just past the closing quote of the string that opens at `start`. */
  private stringEnd(start: number): number {
    const t = this.text;
    for (let i = start + 1; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) return i + 1;
    }
    throw new SyntaxError("unterminated string");
  }
}
