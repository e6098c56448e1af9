#!/usr/bin/env node
// warrenctl: rabbitmqctl's verbs for a Warren node, over its management API.
// Build first (npm run build); the compiled CLI lives in dist/.
import { main } from "../dist/src/cli/warrenctl.js";

await main();
