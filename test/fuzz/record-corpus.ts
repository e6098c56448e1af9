/**
 * Records the fuzz corpus: runs every scenario of corpus-scenarios.ts against a real
 * Warren process through a proxy that keeps what each client sent, and writes one
 * file per connection to test/fuzz/corpus/ (the exact client-to-broker bytes).
 *   npm run fuzz:record
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, startBroker } from "../support/broker-process.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { CORPUS_SCENARIOS } from "./corpus-scenarios.js";

const dir = join(REPO_ROOT, "test/fuzz/corpus");
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.endsWith(".amqp")) rmSync(join(dir, f));

const broker = await startBroker();
let sessions: Buffer[][] = [];
const proxy = new TcpProxy(broker.host, broker.port, {
  tapClient: () => {
    const sent: Buffer[] = [];
    sessions.push(sent);
    return (d) => sent.push(Buffer.from(d));
  },
});
const url = await proxy.start();

let failed = 0;
for (const scenario of CORPUS_SCENARIOS) {
  sessions = [];
  try {
    await scenario.run(url);
  } catch (e) {
    failed++;
    console.error(`${scenario.name}: ${(e as Error).message}`);
  }
  await new Promise((r) => setTimeout(r, 100));
  sessions.forEach((chunks, i) => {
    const bytes = Buffer.concat(chunks);
    if (bytes.length === 0) return;
    const name = sessions.length > 1 ? `${scenario.name}-${i + 1}` : scenario.name;
    writeFileSync(join(dir, `${name}.amqp`), bytes);
    console.log(`${name}.amqp\t${bytes.length} bytes`);
  });
}
await proxy.stop();
await broker.stop();
process.exit(failed ? 1 : 0);
