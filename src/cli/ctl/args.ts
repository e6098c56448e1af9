/** Exit codes as rabbitmqctl uses them (sysexits.h). */
export const EXIT = {
  ok: 0,
  /** A check found a problem, or warnings from the doctor. */
  failed: 1,
  /** Bad command line (EX_USAGE). */
  usage: 64,
  /** Bad input data, e.g. an unreadable definitions file (EX_DATAERR). */
  dataError: 65,
  /** The node is unreachable, or a diagnostics check failed (EX_UNAVAILABLE). */
  unavailable: 69,
  /** The node refused the operation (EX_SOFTWARE). */
  software: 70,
  /** Timed out (EX_TEMPFAIL). */
  timeout: 75,
} as const;

/** A failure with its exit code and the message printed to stderr. */
export class CtlError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): CtlError {
  return new CtlError(EXIT.usage, message);
}

/** Flags that take a value; the rest are switches. Short forms are rabbitmqctl's. */
const VALUE_FLAGS: Record<string, string> = {
  "--node": "node",
  "-n": "node",
  "--url": "url",
  "--username": "username",
  "--password": "password",
  "--vhost": "vhost",
  "-p": "vhost",
  "--formatter": "formatter",
  "--timeout": "timeout",
  "-t": "timeout",
  "--priority": "priority",
  "--apply-to": "apply-to",
  "--limit": "limit",
  "--per-connection-delay": "per-connection-delay",
  "--pid": "pid",
  "--window-minutes": "window-minutes",
  "--abandoned-minutes": "abandoned-minutes",
  "--description": "description",
  "--tags": "tags",
  "--default-queue-type": "default-queue-type",
  "--user": "user",
  "--vhost-pattern": "vhost-pattern",
  "--queue-pattern": "queue-pattern",
};

const SWITCHES: Record<string, string> = {
  "--quiet": "quiet",
  "-q": "quiet",
  "--silent": "quiet",
  "-s": "quiet",
  "--no-table-headers": "no-table-headers",
  "--global": "global",
  "--if-empty": "if-empty",
  "-e": "if-empty",
  "--if-unused": "if-unused",
  "-u": "if-unused",
  "--json": "json",
  "--online": "online",
  "--offline": "offline",
  "--local": "local",
  "--longnames": "longnames",
  "-l": "longnames",
  "--help": "help",
  "-h": "help",
  "--version": "version",
  "--errors-only": "errors-only",
};

export interface ParsedArgs {
  readonly positional: string[];
  readonly flags: Map<string, string | true>;
}

/**
 * rabbitmqctl's command line: global and command flags may come before or after
 * the command, as "--flag value", "--flag=value" or switches. "--" ends flags.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS[name]) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw usageError(`${name} needs a value`);
      flags.set(VALUE_FLAGS[name]!, value);
    } else if (SWITCHES[name]) {
      flags.set(SWITCHES[name]!, true);
    } else if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      throw usageError(`unknown option ${a}`);
    } else positional.push(a);
  }
  return { positional, flags };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

export function flagSet(args: ParsedArgs, name: string): boolean {
  return args.flags.has(name);
}

export function flagInt(args: ParsedArgs, name: string): number | undefined {
  const v = flagString(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw usageError(`--${name} must be an integer, got '${v}'`);
  return n;
}
