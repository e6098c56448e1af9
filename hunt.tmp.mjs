import { loadCorpus } from "/work/main/dist/test/fuzz/fuzz-corpus.js";
import { runCampaign } from "/work/main/dist/test/fuzz/fuzz-campaign.js";
import { writeFileSync } from "node:fs";
const all = loadCorpus();
const corpus = all.filter(c => c.name === process.argv[4]);
const r = await runCampaign({ count: Number(process.argv[2]), seed: Number(process.argv[3]), corpus, mutatedShare: 1 });
console.log(r.inputs, r.elapsedMs, r.findings.length);
for (const f of r.findings.slice(0, 5)) { console.log(f.index, f.source, f.violations); writeFileSync(`/tmp/fz/finding-${f.index}.amqp`, f.input); }
