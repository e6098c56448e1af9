import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { DoctorReport } from "../../src/doctor/doctor.js";
import { connect, take } from "../support/amqplib-helpers.js";
import { startMgmtBroker, warrenctl } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("damages the data files of a Warren it starts");

const COUNT = 300;

test("one flipped byte costs one message: the rest is recovered, and the log, /metrics and doctor say which queue lost what", {
  skip,
  timeout: 120_000,
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "warren-damage-"));
  const args = ["--segment-bytes", String(64 * 1024)];
  try {
    let node = await startMgmtBroker({ dataDir, args });
    const conn = await connect(node.broker.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("ledger", { durable: true });
    for (let i = 0; i < COUNT; i++)
      ch.sendToQueue(
        "ledger",
        Buffer.from(`entry-${String(i).padStart(4, "0")}-${"x".repeat(900)}`),
        {
          persistent: true,
        },
      );
    await ch.waitForConfirms();
    await conn.close();
    await node.stop();

    // Flip one byte in the body of entry 150, wherever it is (a middle segment).
    const msgs = join(dataDir, "msgs");
    const files = readdirSync(msgs)
      .filter((f) => f.endsWith(".wlog"))
      .sort();
    assert.ok(files.length >= 4, `${files.length} segments`);
    let damagedIn = "";
    for (const f of files) {
      const bytes = readFileSync(join(msgs, f));
      const at = bytes.indexOf("entry-0150-");
      if (at < 0) continue;
      bytes[at + 100] ^= 0x01;
      writeFileSync(join(msgs, f), bytes);
      damagedIn = f;
    }
    assert.ok(damagedIn && damagedIn !== files[0] && damagedIn !== files.at(-1), damagedIn);

    node = await startMgmtBroker({ dataDir, args });
    try {
      const line = await node.broker.waitForLog((l) =>
        String(l.msg).startsWith("message store damage:"),
      );
      assert.equal(line.level, 50, "logged at error level");
      assert.match(String(line.msg), /skipped 1 damaged records/);
      assert.match(String(line.msg), /Messages lost: 1 from queue 'ledger' in vhost '\/'/);

      const reader = await connect(node.broker.url);
      const rch = await reader.createChannel();
      const got = await take(rch, "ledger", COUNT - 1);
      const ids = got.map((m) => Number(m.content.toString().slice(6, 10)));
      assert.deepEqual(
        ids,
        Array.from({ length: COUNT }, (_, i) => i).filter((i) => i !== 150),
        "every message before and after the damaged one is recovered, in order",
      );
      for (const m of got) rch.ack(m);
      await reader.close();

      const metrics = await (await fetch(`${node.metricsUrl}/metrics`)).text();
      assert.match(metrics, /^warren_store_corrupt_records_total 1$/m);
      assert.match(metrics, /^warren_messages_lost_total 1$/m);

      const json = await warrenctl(node.mgmtUrl, ["doctor", "--json"]);
      const report = JSON.parse(json.stdout) as DoctorReport;
      const finding = report.findings.find((f) => f.check === "store-damage");
      assert.ok(finding, JSON.stringify(report.findings, null, 2));
      assert.equal(finding.severity, "critical");
      assert.match(finding.evidence.join("\n"), /lost: 1 from queue 'ledger' in vhost '\/'/);
      assert.match(finding.remedy, /republish/);
      const text = await warrenctl(node.mgmtUrl, ["doctor"]);
      assert.match(text.stdout, /damaged record/);
    } finally {
      await node.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
