/**
 * Erlang terms as rabbitmqctl's classic output prints them (`status` in the form
 * operators grep: `rabbitmqctl status | grep -A3 file_descriptors`).
 */
export type Term =
  | number
  | { readonly atom: string }
  | { readonly str: string }
  | { readonly bin: string }
  | { readonly tuple: readonly Term[] }
  | readonly Term[];

export const atom = (a: string): Term => ({ atom: a });
export const str = (s: string): Term => ({ str: s });
/** An Erlang binary: <<"text">>. */
export const bin = (s: string): Term => ({ bin: s });
export const tuple = (...items: Term[]): Term => ({ tuple: items });
/** A proplist entry {Key, Value}. */
export const kv = (key: string, value: Term): Term => tuple(atom(key), value);

function quoteAtom(a: string): string {
  return /^[a-z][A-Za-z0-9_@]*$/.test(a) ? a : `'${a.replace(/'/g, "\\'")}'`;
}

/** A term on one line: {file_descriptors,[{total_limit,1024},{total_used,12}]}. */
export function flat(t: Term): string {
  if (typeof t === "number") return String(t);
  if (Array.isArray(t)) return `[${t.map(flat).join(",")}]`;
  const o = t as { atom?: string; str?: string; bin?: string; tuple?: Term[] };
  if (o.atom !== undefined) return quoteAtom(o.atom);
  if (o.str !== undefined) return JSON.stringify(o.str);
  if (o.bin !== undefined) return `<<${JSON.stringify(o.bin)}>>`;
  return `{${o.tuple!.map(flat).join(",")}}`;
}

/**
 * io_lib's pretty layout, simplified: a term that fits on the rest of the line is
 * printed flat; a list breaks one element per line; a {key, value} pair puts the
 * value on the next line, indented by four. Wide enough (100 columns) that the
 * file_descriptors list stays on one line, as in the seed documents' runbooks.
 */
export function pretty(t: Term, indent = 0, width = 100): string {
  const one = flat(t);
  if (indent + one.length <= width) return one;
  const pad = " ".repeat(indent + 1);
  if (Array.isArray(t)) {
    return `[${t.map((x, i) => (i === 0 ? "" : pad) + pretty(x, indent + 1, width)).join(",\n")}]`;
  }
  const o = t as { tuple?: Term[] };
  if (o.tuple && o.tuple.length === 2) {
    const head = flat(o.tuple[0]!);
    const rest = pretty(o.tuple[1]!, indent + 4, width);
    return `{${head},\n${" ".repeat(indent + 4)}${rest}}`;
  }
  if (o.tuple) {
    return `{${o.tuple.map((x, i) => (i === 0 ? "" : pad) + pretty(x, indent + 1, width)).join(",\n")}}`;
  }
  return one;
}

/** A JSON value as an Erlang term: objects become proplists, strings strings. */
export function fromJson(v: unknown): Term {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return atom(String(v));
  if (v === null || v === undefined) return atom("undefined");
  if (typeof v === "string") return str(v);
  if (Array.isArray(v)) return v.map(fromJson);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => kv(k, fromJson(x)));
}
