import { silentLog } from "../../src/log.js";
import type { FieldTable, FieldValue } from "../../src/protocol/field-table.js";
import type { Method } from "../../src/protocol/generated/methods.js";
import type { BasicProperties } from "../../src/protocol/generated/properties.js";
import { systemSources } from "../../src/runtime/system-sources.js";
import { Broker } from "../../src/vhost/broker.js";
import { DEFAULT_SETTINGS } from "../../src/vhost/broker-settings.js";
import type { Permission } from "../../src/vhost/users.js";
import { InProcessClient, type Received } from "./in-process-client.js";

export const USER = "alice";
export const PASSWORD = "alice-secret";

export const str = (s: string): FieldValue => ({ type: "S", value: Buffer.from(s) });
export const table = (entries: [string, FieldValue][] = []): FieldTable => new Map(entries);

/**
 * A broker where guest (full access) has built a small topology, and a user "alice"
 * with the permission under test is connected with channel 1 open.
 */
export interface PermissionFixture {
  readonly broker: Broker;
  readonly guest: InProcessClient;
  readonly alice: InProcessClient;
}

export function permissionFixture(permission: Permission): PermissionFixture {
  const broker = new Broker(DEFAULT_SETTINGS, silentLog, systemSources);
  broker.bootstrapDefaults();
  broker.addUser(USER, PASSWORD);
  broker.users.setPermission("/", USER, permission);
  const guest = new InProcessClient(broker);
  guest.handshake();
  guest.openChannel(1);
  for (const [exchange, type] of [
    ["x", "direct"],
    ["src", "direct"],
    ["dst", "direct"],
    ["delx", "direct"],
    ["t", "topic"],
  ] as const) {
    guest.method(1, exchangeDeclare(exchange, type));
  }
  for (const queue of ["q", "delq"]) guest.method(1, queueDeclare(queue));
  guest.method(1, {
    name: "queue.bind",
    queue: "q",
    exchange: "x",
    routingKey: "k",
    noWait: false,
    arguments: table(),
  });
  guest.method(1, {
    name: "exchange.bind",
    destination: "dst",
    source: "src",
    routingKey: "k",
    noWait: false,
    arguments: table(),
  });
  guest.publish(1, "", "q", "waiting");
  guest.pump();
  const alice = new InProcessClient(broker);
  alice.handshake(USER, PASSWORD);
  alice.openChannel(1);
  alice.received.length = 0;
  return { broker, guest, alice };
}

export function exchangeDeclare(
  exchange: string,
  type = "direct",
  args: FieldTable = table(),
  passive = false,
): Method {
  return {
    name: "exchange.declare",
    exchange,
    type,
    passive,
    durable: false,
    autoDelete: false,
    internal: false,
    noWait: false,
    arguments: args,
  };
}

export function queueDeclare(queue: string, args: FieldTable = table(), passive = false): Method {
  return {
    name: "queue.declare",
    queue,
    passive,
    durable: false,
    exclusive: false,
    autoDelete: false,
    noWait: false,
    arguments: args,
  };
}

/** Puts channel 1 in confirm mode and publishes, so success is a basic.ack. */
export function publishConfirmed(
  c: InProcessClient,
  exchange: string,
  routingKey: string,
  props: BasicProperties = {},
): void {
  c.method(1, { name: "confirm.select", nowait: false });
  c.pump();
  c.received.length = 0;
  c.publish(1, exchange, routingKey, "hello", props);
}

/** What the broker answered on channel 1 after a command: its reply, or the channel.close it sent. */
export async function answer(client: InProcessClient): Promise<Method | undefined> {
  // Declarations may wait for a (here absent) definitions write: let that settle first.
  await new Promise((r) => setImmediate(r));
  const got: Received[] = client.pump();
  return got.find((r) => r.channel === 1)?.method;
}

/** The reply text of the channel.close in an answer, or the answer's method name. */
export function outcome(method: Method | undefined): string {
  if (method === undefined) return "nothing";
  if (method.name === "channel.close") return `${method.replyCode} ${method.replyText}`;
  return method.name;
}
