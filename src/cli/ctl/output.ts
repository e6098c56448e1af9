import { flagSet, flagString, type ParsedArgs, usageError } from "./args.js";

/** Where a verb writes: stdout for results, stderr for errors. */
export interface Out {
  stdout(text: string): void;
  stderr(text: string): void;
}

export type Formatter = "table" | "json" | "erlang" | "pretty";

export function formatterOf(args: ParsedArgs, allowed: readonly Formatter[], fallback: Formatter) {
  const f = flagString(args, "formatter") ?? fallback;
  if (!(allowed as readonly string[]).includes(f)) {
    throw usageError(`formatter '${f}' is not supported here (use ${allowed.join(", ")})`);
  }
  return f as Formatter;
}

/** Informational lines ("Listing queues ..."), silenced by --quiet and by the JSON formatter. */
export function info(out: Out, args: ParsedArgs, line: string): void {
  if (!flagSet(args, "quiet") && flagString(args, "formatter") !== "json") out.stdout(`${line}\n`);
}

function erlangish(v: unknown, nested: boolean): string {
  if (v === null || v === undefined) return nested ? "undefined" : "";
  if (typeof v === "string") return nested ? `"${v}"` : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => erlangish(x, typeof x === "object")).join(", ")}]`;
  const entries = Object.entries(v as Record<string, unknown>);
  return `[${entries.map(([k, x]) => `{"${k}",${erlangish(x, true)}}`).join(",")}]`;
}

/**
 * A value in a tab-separated column, as rabbitmqctl prints it: strings bare,
 * booleans as true/false, lists as [a, b], tables as [{"key",value}].
 */
export function formatCell(v: unknown): string {
  return erlangish(v, false);
}

/**
 * Rows as rabbitmqctl's table formatter writes them (one line per row, columns
 * separated by tabs, a header line unless --no-table-headers), or as its JSON
 * formatter does (an array with one object per row).
 */
export function printRows(
  out: Out,
  args: ParsedArgs,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
): void {
  if (flagString(args, "formatter") === "json") {
    const objects = rows.map((r) =>
      JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))),
    );
    out.stdout(`[\n${objects.join("\n,")}${objects.length ? "\n" : ""}]\n`);
    return;
  }
  const lines: string[] = [];
  if (!flagSet(args, "no-table-headers")) lines.push(columns.join("\t"));
  for (const r of rows) lines.push(columns.map((c) => formatCell(r[c])).join("\t"));
  if (lines.length > 0) out.stdout(`${lines.join("\n")}\n`);
}
