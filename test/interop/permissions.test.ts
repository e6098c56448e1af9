import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type amqp from "amqplib";
import {
  type Channel,
  type Connection,
  channelClosed,
  connect,
} from "../support/amqplib-helpers.js";
import { type BrokerUnderTest, startBroker } from "../support/broker-process.js";
import { RawAmqpClient } from "../support/raw-amqp-client.js";
import { type SeedUser, seededDataDir } from "../support/seeded-definitions.js";
import { warrenOnly } from "../support/warren-only.js";

// RabbitMQ's permission table (https://www.rabbitmq.com/docs/access-control#authorisation)
// driven through amqplib against a real Warren whose users come from its definitions
// file: one user lacks configure, one write, one read; "all" has everything.

const skip = warrenOnly("users are seeded through Warren's definitions file");
const secret = () => `pw-${randomBytes(12).toString("hex")}`;

const USERS: SeedUser[] = [
  { name: "all", password: secret(), permission: [".*", ".*", ".*"] },
  { name: "no-configure", password: secret(), permission: ["", ".*", ".*"] },
  { name: "no-write", password: secret(), permission: [".*", "", ".*"] },
  { name: "no-read", password: secret(), permission: [".*", ".*", ""] },
  { name: "nothing", password: secret(), permission: ["", "", ""] },
  { name: "outsider", password: secret() },
  {
    name: "tenant",
    password: secret(),
    permission: [".*", ".*", ".*"],
    topicPermissions: [{ exchange: "amq.topic", write: "^{username}\\.", read: "^{username}\\." }],
  },
];
const WRONG_PASSWORD = secret();
const passwordOf = (name: string) => USERS.find((u) => u.name === name)!.password!;

let broker: BrokerUnderTest;
let dataDir: string;
const connections = new Map<string, Connection>();

function urlFor(user: string, password = passwordOf(user)): string {
  return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${broker.port}`;
}

async function connectionOf(user: string): Promise<Connection> {
  let c = connections.get(user);
  if (!c) {
    c = await connect(urlFor(user));
    connections.set(user, c);
  }
  return c;
}

before(async () => {
  if (skip) return;
  dataDir = seededDataDir(USERS);
  broker = await startBroker({ dataDir });
  const guest = await connect(broker.url);
  const setup = await guest.createChannel();
  for (const x of ["p-x", "p-src", "p-dst", "p-delx"]) await setup.assertExchange(x, "direct");
  for (const q of ["p-q", "p-delq"]) await setup.assertQueue(q);
  await setup.bindQueue("p-q", "p-x", "k");
  await setup.bindExchange("p-dst", "p-src", "k");
  setup.sendToQueue("p-q", Buffer.from("waiting"));
  await guest.close();
});

after(async () => {
  for (const c of connections.values()) await c.close().catch(() => {});
  await broker?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** "ok", or the reply code and text of the channel.close the operation caused. */
async function attempt(
  user: string,
  op: (ch: amqp.ConfirmChannel) => Promise<unknown>,
): Promise<string> {
  const ch = await (await connectionOf(user)).createConfirmChannel();
  const closed = channelClosed(ch as unknown as Channel);
  try {
    await Promise.race([
      op(ch),
      closed.then((e) => {
        throw e;
      }),
    ]);
    await ch.close();
    return "ok";
  } catch (e) {
    const err = e as Error & { code?: number };
    const text = /with message "(.*)"/.exec(err.message)?.[1] ?? err.message;
    return `${err.code} ${text}`;
  }
}

type Op = (ch: amqp.ConfirmChannel) => Promise<unknown>;

const publish: Op = async (ch) => {
  ch.publish("p-x", "k", Buffer.from("hello"));
  await ch.waitForConfirms();
};

/** Each operation, and for each kind of permission it needs, the refusal RabbitMQ gives. */
const TABLE: [string, Op, Partial<Record<"configure" | "write" | "read", string>>][] = [
  [
    "exchange.declare",
    (ch) => ch.assertExchange("p-newx", "direct"),
    { configure: "exchange 'p-newx'" },
  ],
  [
    "exchange.declare with an alternate exchange",
    (ch) => ch.assertExchange("p-aex", "direct", { alternateExchange: "p-x" }),
    { configure: "exchange 'p-aex'", write: "exchange 'p-x'", read: "exchange 'p-aex'" },
  ],
  ["exchange.delete", (ch) => ch.deleteExchange("p-delx"), { configure: "exchange 'p-delx'" }],
  ["queue.declare", (ch) => ch.assertQueue("p-newq"), { configure: "queue 'p-newq'" }],
  [
    "queue.declare with a dead-letter exchange",
    (ch) => ch.assertQueue("p-dlq", { deadLetterExchange: "p-x" }),
    { configure: "queue 'p-dlq'", write: "exchange 'p-x'", read: "queue 'p-dlq'" },
  ],
  ["queue.delete", (ch) => ch.deleteQueue("p-delq"), { configure: "queue 'p-delq'" }],
  [
    "exchange.bind",
    (ch) => ch.bindExchange("p-dst", "p-src", "k2"),
    { write: "exchange 'p-dst'", read: "exchange 'p-src'" },
  ],
  [
    "exchange.unbind",
    (ch) => ch.unbindExchange("p-dst", "p-src", "k2"),
    { write: "exchange 'p-dst'", read: "exchange 'p-src'" },
  ],
  [
    "queue.bind",
    (ch) => ch.bindQueue("p-q", "p-x", "k2"),
    { write: "queue 'p-q'", read: "exchange 'p-x'" },
  ],
  [
    "queue.unbind",
    (ch) => ch.unbindQueue("p-q", "p-x", "k2"),
    { write: "queue 'p-q'", read: "exchange 'p-x'" },
  ],
  ["basic.publish", publish, { write: "exchange 'p-x'" }],
  ["basic.get", (ch) => ch.get("p-q", { noAck: false }), { read: "queue 'p-q'" }],
  ["basic.consume", (ch) => ch.consume("p-q", () => {}), { read: "queue 'p-q'" }],
  ["queue.purge", (ch) => ch.purgeQueue("p-q"), { read: "queue 'p-q'" }],
];

describe("amqplib: each operation against each kind of permission", { skip }, () => {
  for (const [name, op, needs] of TABLE) {
    // Refusals first: they change nothing, while the successful run creates or deletes.
    for (const kind of ["configure", "write", "read"] as const) {
      const resource = needs[kind];
      if (resource) {
        test(`${name} without ${kind} on ${resource} is refused with 403`, async () => {
          assert.equal(
            await attempt(`no-${kind}`, op),
            `403 ACCESS_REFUSED - ${kind} access to ${resource} in vhost '/' refused for user 'no-${kind}'`,
          );
        });
      } else {
        test(`${name} needs no ${kind} permission`, async () => {
          // A user without that kind still gets past this operation's checks.
          const result = await attempt(`no-${kind}`, op);
          assert.ok(!result.includes(`${kind} access`), result);
        });
      }
    }
    test(`${name} succeeds with every permission`, async () => {
      assert.equal(await attempt("all", op), "ok");
    });
  }

  test("passive declares need no permission at all", async () => {
    assert.equal(await attempt("nothing", (ch) => ch.checkQueue("p-q")), "ok");
    assert.equal(await attempt("nothing", (ch) => ch.checkExchange("p-x")), "ok");
  });

  test("a refused channel leaves the connection and its other channels working", async () => {
    const conn = await connectionOf("no-configure");
    const other = await conn.createChannel();
    assert.match(await attempt("no-configure", (ch) => ch.assertQueue("p-other")), /^403 /);
    assert.equal((await other.checkQueue("p-q")).queue, "p-q");
    await other.close();
  });
});

describe("amqplib: topic permissions", { skip }, () => {
  test("publishing to amq.topic with a key outside the user's write pattern is refused", async () => {
    const pub =
      (key: string): Op =>
      async (ch) => {
        ch.publish("amq.topic", key, Buffer.from("x"));
        await ch.waitForConfirms();
      };
    assert.equal(await attempt("tenant", pub("tenant.orders")), "ok");
    assert.equal(
      await attempt("tenant", pub("other.orders")),
      "403 ACCESS_REFUSED - write access to topic 'other.orders' in exchange 'amq.topic' in vhost '/' refused for user 'tenant'",
    );
  });

  test("binding to amq.topic with a key outside the user's read pattern is refused", async () => {
    assert.equal(
      await attempt("tenant", (ch) => ch.bindQueue("p-q", "amq.topic", "tenant.#")),
      "ok",
    );
    assert.equal(
      await attempt("tenant", (ch) => ch.bindQueue("p-q", "amq.topic", "#")),
      "403 ACCESS_REFUSED - read access to topic '#' in exchange 'amq.topic' in vhost '/' refused for user 'tenant'",
    );
  });
});

describe("logins", { skip }, () => {
  test("a wrong password is refused with RabbitMQ's login text", async () => {
    await assert.rejects(
      connect(urlFor("all", WRONG_PASSWORD)),
      /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
    );
  });

  test("a user without permissions on the vhost gets 530 at connection.open", async () => {
    const client = await RawAmqpClient.connect("127.0.0.1", broker.port);
    const tune = await client.login({ username: "outsider", password: passwordOf("outsider") });
    client.sendMethod(0, {
      name: "connection.tune-ok",
      channelMax: tune.channelMax,
      frameMax: tune.frameMax,
      heartbeat: 0,
    });
    client.sendMethod(0, { name: "connection.open", virtualHost: "/" });
    assert.deepEqual(await client.expectConnectionClose(), {
      replyCode: 530,
      replyText: "NOT_ALLOWED - access to vhost '/' refused for user 'outsider'",
      classId: 10,
      methodId: 40,
    });
    client.destroy();
  });

  test("no password, right or wrong, ever appears in Warren's output", async () => {
    // Every user above has logged in (or tried) by now, with debug logging on.
    await connect(urlFor("nothing")).then((c) => c.close());
    await broker.waitForLog((l) => String(l.msg).includes("user 'nothing' authenticated"));
    const output = broker.logs.map((l) => JSON.stringify(l)).join("\n") + broker.stderr();
    for (const password of [...USERS.map((u) => u.password!), WRONG_PASSWORD]) {
      assert.equal(output.includes(password), false, `a password appeared in the log`);
    }
    assert.ok(
      broker.logs.some((l) =>
        String(l.msg).includes("PLAIN login refused: user 'all' - invalid credentials"),
      ),
    );
  });
});
