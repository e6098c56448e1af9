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

/**
 * Rows as RabbitMQ's PrettyTable formatter draws them (quorum_status, rebalance): a box of
 * Unicode lines with the columns as headers, one line per row; the JSON formatter writes the
 * same array of objects as printRows.
 */
export function printPrettyTable(
  out: Out,
  args: ParsedArgs,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
): void {
  if (flagString(args, "formatter") === "json") {
    printRows(out, args, columns, rows);
    return;
  }
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const rule = (left: string, mid: string, right: string) =>
    `${left}${widths.map((w) => "─".repeat(w + 2)).join(mid)}${right}`;
  const line = (values: readonly string[]) =>
    `│${values.map((v, i) => ` ${v.padEnd(widths[i]!)} `).join("│")}│`;
  const lines = [rule("┌", "┬", "┐")];
  if (!flagSet(args, "no-table-headers")) lines.push(line(columns), rule("├", "┼", "┤"));
  for (const row of cells) lines.push(line(row));
  lines.push(rule("└", "┴", "┘"));
  out.stdout(`${lines.join("\n")}\n`);
}
