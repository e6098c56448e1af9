#!/usr/bin/env node
// `warren perf ...` runs the load generator; anything else starts the broker.
// Both are compiled to dist/ by `npm run build`.
if (process.argv[2] === "perf") {
  process.argv.splice(2, 1);
  await import("../dist/src/cli/perf.js");
} else {
  await import("../dist/src/cli/warren.js");
}
