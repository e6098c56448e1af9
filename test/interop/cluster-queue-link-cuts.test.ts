/**
 * Classic-queue forwarding when the link between a consumer's node and the queue's home is
 * really cut (the test's TCP proxies reset both connections, then let them reconnect): the
 * consumer hears basic.cancel, the home takes back what it held, and once the consumer
 * subscribes again every confirmed message is consumed, none lost, a message seen twice
 * only as a redelivery, and nothing left unacknowledged at the home.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import amqp from "amqplib";
import { TestCluster } from "../support/cluster-process.js";
import { eventually } from "../support/eventually.js";
import { api } from "../support/mgmt-broker.js";
import { warrenOnly } from "../support/warren-only.js";

const skip = warrenOnly("starts its own Warren cluster behind TCP proxies");

let cluster: TestCluster;

before(async () => {
  if (skip) return;
  cluster = await TestCluster.create(3, { proxied: true });
  await cluster.startAll();
  await cluster.allServing();
});

after(async () => {
  await cluster?.stopAll();
});

/** Resets both connections between node `a` and node `b` (they redial at once). */
function cutBetween(a: number, b: number): void {
  const [x, y] = [cluster.nodes[a]!.spec.name, cluster.nodes[b]!.spec.name];
  cluster.proxies.get(`${x}>${y}`)!.cut();
  cluster.proxies.get(`${y}>${x}`)!.cut();
}

test("cutting the link between a consumer's node and the queue's home loses no confirmed message", {
  skip,
  timeout: 120_000,
}, async () => {
  const queue = "cut-between-consumer-and-home";
  const setup = await amqp.connect(cluster.url(1));
  await (await setup.createChannel()).assertQueue(queue, { durable: true });
  await setup.close();
  await eventually("the queue on every node", async () => {
    for (const node of cluster.nodes) {
      if ((await api(node.mgmtUrl, "GET", `/api/queues/%2F/${queue}`)).status !== 200) return false;
    }
    return true;
  });

  // The consumer on node 3 subscribes again whenever it is cancelled; while the home is out
  // of reach the consume is 404, which closes the channel, so each try takes a new channel.
  const sub = await amqp.connect(cluster.url(2));
  const seen = new Map<number, number>();
  let cancels = 0;
  let secondsNotRedelivered = 0;
  let channel: amqp.Channel | undefined;
  let finished = false;
  const subscribe = async (): Promise<void> => {
    while (!finished) {
      const ch = await sub.createChannel();
      ch.on("error", () => {});
      try {
        await ch.prefetch(20);
        await ch.consume(queue, (m) => {
          if (m === null) {
            cancels++;
            setTimeout(() => void subscribe(), 100);
            return;
          }
          const id = Number(m.content.toString());
          const times = (seen.get(id) ?? 0) + 1;
          seen.set(id, times);
          if (times > 1 && !m.fields.redelivered) secondsNotRedelivered++;
          setTimeout(() => {
            try {
              ch.ack(m);
            } catch {
              // The channel is gone: the home has taken the message back.
            }
          }, 2);
        });
        channel = ch;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  await subscribe();

  // The publisher on node 1, with confirms; the cuts happen while it runs.
  const pub = await amqp.connect(cluster.url(0));
  const pch = await pub.createConfirmChannel();
  const confirmed = new Set<number>();
  const total = 3_000;
  const cuts = [600, 1_400, 2_200];
  for (let i = 0; i < total; i++) {
    if (cuts.includes(i)) cutBetween(1, 2);
    pch.sendToQueue(queue, Buffer.from(String(i)), { persistent: true }, (err) => {
      if (!err) confirmed.add(i);
    });
    if (i % 100 === 99) await pch.waitForConfirms().catch(() => {});
  }
  await pch.waitForConfirms().catch(() => {});
  await pub.close();
  assert.ok(confirmed.size > total / 2, `most publishes were confirmed (${confirmed.size})`);

  await eventually(
    "every confirmed message consumed",
    () => [...confirmed].every((id) => seen.has(id)),
    60_000,
  );
  assert.ok(cancels >= 1, "the consumer was cancelled when its link to the home was cut");
  assert.equal(secondsNotRedelivered, 0, "a message delivered again is marked redelivered");
  await eventually(
    "nothing left at the home",
    async () => {
      const r = await api(cluster.nodes[1]!.mgmtUrl, "GET", `/api/queues/%2F/${queue}`);
      const b = r.body as { messages_ready: number; messages_unacknowledged: number };
      return b.messages_unacknowledged === 0 && b.messages_ready === 0;
    },
    30_000,
  );
  finished = true;
  await channel?.close().catch(() => {});
  await sub.close().catch(() => {});
});
