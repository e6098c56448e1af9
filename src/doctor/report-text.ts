import type { DoctorReport } from "./doctor.js";

/** Wraps a paragraph at `width` columns with a hanging indent. */
function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * The doctor report for a terminal: each finding with its evidence and remedy,
 * then the list of checks with their status. The JSON form (--json) carries the same.
 */
export function reportText(r: DoctorReport): string {
  const out: string[] = [];
  const n = r.findings.length;
  out.push(
    `Doctor report for node ${r.node} at ${r.checkedAt} (looking back ${Math.round(r.windowMs / 60_000)} min): ` +
      (n === 0 ? "no problems found" : `${n} problem${n === 1 ? "" : "s"} found`),
  );
  for (const f of r.findings) {
    out.push("");
    out.push(`${f.severity.toUpperCase()}  [${f.check}] ${f.title}`);
    out.push("  evidence:");
    for (const e of f.evidence)
      out.push(...wrap(e, "    - ").map((l, i) => (i === 0 ? l : `      ${l.trimStart()}`)));
    out.push("  remedy:");
    out.push(...wrap(f.remedy, "    "));
    if (f.seed) out.push(`  (seed ${f.seed})`);
  }
  out.push("");
  out.push("Checks:");
  for (const c of r.checks) out.push(`  ${c.status.padEnd(8)} ${c.id.padEnd(20)} ${c.description}`);
  return `${out.join("\n")}\n`;
}
