/**
 * Checks a regular expression from an operator or management user (a policy pattern,
 * a permission, ?use_regex=true) before Warren keeps or runs it. It must compile as
 * JavaScript; and a pattern that nests quantifiers, such as `(a+)+`, must be one V8 can
 * rerun on its linear-time engine when it backtracks too much
 * (runtime/regexp-backtracking.ts). That engine cannot run lookarounds or
 * backreferences, so a pattern with those and nested quantifiers could hold the event
 * loop for hours on a name such as "aaaa…a!", and is refused.
 */
export function patternProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (e) {
    return `pattern '${pattern}' is not a valid regular expression: ${(e as Error).message}`;
  }
  const shape = scan(pattern);
  if (shape.nestedQuantifiers && shape.backtrackingOnly) {
    return (
      `pattern '${pattern}' nests quantifiers and uses a lookaround or backreference, ` +
      "so matching it could take exponential time; simplify it"
    );
  }
  return undefined;
}

interface Shape {
  nestedQuantifiers: boolean;
  backtrackingOnly: boolean;
}

/** A repeat without an upper bound of 1: *, + or {n,} / {n,m} (but not ? or {n}). */
function repeatAt(p: string, i: number): boolean {
  const c = p[i];
  if (c === "*" || c === "+") return true;
  return c === "{" && /^\{\d*,\d*\}/.test(p.slice(i));
}

/** One pass over the source: groups, what they hold, and what follows them. */
function scan(p: string): Shape {
  const shape: Shape = { nestedQuantifiers: false, backtrackingOnly: false };
  // For each open group: whether anything inside it repeats.
  const groups: boolean[] = [false];
  const markRepeat = () => {
    groups[groups.length - 1] = true;
  };
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      const next = p[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && p[i + 2] === "<")) shape.backtrackingOnly = true;
      i++;
      if (repeatAt(p, i + 1)) markRepeat();
    } else if (c === "[") {
      // A character class: skip to its unescaped end; it is one atom.
      for (i++; i < p.length && p[i] !== "]"; i++) if (p[i] === "\\") i++;
      if (repeatAt(p, i + 1)) markRepeat();
    } else if (c === "(") {
      if (/^\(\?<?[=!]/.test(p.slice(i))) shape.backtrackingOnly = true;
      groups.push(false);
    } else if (c === ")") {
      const inner = groups.length > 1 ? groups.pop()! : false;
      const repeated = repeatAt(p, i + 1);
      if (repeated && inner) shape.nestedQuantifiers = true;
      if (repeated || inner) markRepeat();
    } else if (repeatAt(p, i)) {
      markRepeat();
    }
  }
  return shape;
}
