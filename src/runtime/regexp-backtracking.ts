import v8 from "node:v8";

/**
 * Patterns from operators and management users (policies, permissions, topic
 * permissions, the API's ?use_regex=true) are JavaScript regexes, matched against
 * names clients choose. A pattern such as `^(a+)+$` backtracks exponentially on a
 * name like "aaaa…a!" and would hold the event loop, and with it every connection's
 * heartbeats. Erlang's `re`, which RabbitMQ uses, stops at a match limit; V8 can do
 * better: past a number of backtracks it reruns the match on its linear-time engine,
 * with the same result. Patterns that engine cannot run (lookarounds, backreferences)
 * keep the backtracking engine (docs/OPERATIONS.md). Called once, before any matching.
 */
export function enableRegexpBacktrackFallback(): void {
  v8.setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
}
