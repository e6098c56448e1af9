import { createHash } from "node:crypto";
import type { FieldTable } from "../../protocol/field-table.js";
import { toTaggedJson } from "../../protocol/field-table-json.js";
import type { Binding } from "../../routing/binding.js";
import type { Exchange } from "../../routing/exchange.js";
import type { VirtualHost } from "../../vhost/virtual-host.js";
import { type Json, quotePlus, sorted, tableJson } from "./format.js";

/** The exchanges RabbitMQ creates in every vhost are "declared" by rmq-internal. */
function declaredBy(e: Exchange): string | undefined {
  return e.name === "" || e.name.startsWith("amq.") ? "rmq-internal" : undefined;
}

/** An exchange as /api/exchanges shows it. */
export function exchangeView(e: Exchange, vhost: string): Json {
  const d = e.definition;
  const view: Json = {
    arguments: tableJson(d.arguments),
    auto_delete: d.autoDelete,
    durable: d.durable,
    internal: d.internal,
    name: d.name,
    policy: e.policy?.name ?? null,
    type: d.type,
    // Beyond RabbitMQ: publishes that reached no queue through this exchange.
    unroutable: e.unroutable,
    vhost,
  };
  const by = declaredBy(e);
  if (by) view.user_who_performed_action = by;
  return sorted(view);
}

/**
 * RabbitMQ's binding "properties key", which names one binding in URLs: "~" for an
 * empty routing key without arguments, the quoted key, or the key and a hash of the
 * arguments after "~". RabbitMQ hashes with erlang:phash2; Warren with SHA-256, so
 * the hash part differs between the two, but each server accepts its own keys.
 */
export function propertiesKey(routingKey: string, args: FieldTable): string {
  if (args.size === 0) return routingKey === "" ? "~" : quotePlus(routingKey);
  const hash = createHash("sha256")
    .update(JSON.stringify(toTaggedJson(args)))
    .digest()
    .subarray(0, 4)
    .toString("base64url");
  return `${quotePlus(routingKey)}~${quotePlus(hash)}`;
}

export interface BindingRow {
  readonly source: string;
  readonly destination: string;
  readonly destinationType: "queue" | "exchange";
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

const NO_ARGS: FieldTable = new Map();

/**
 * Every binding of a vhost as RabbitMQ lists them: first the default exchange's
 * implicit binding to each queue, then the declared ones.
 */
export function bindingRows(vhost: VirtualHost): BindingRow[] {
  const rows: BindingRow[] = [];
  for (const q of vhost.queues.values()) {
    rows.push({
      source: "",
      destination: q.name,
      destinationType: "queue",
      routingKey: q.name,
      arguments: NO_ARGS,
    });
  }
  for (const b of vhost.allBindings()) rows.push(rowOf(b));
  return rows;
}

function rowOf(b: Binding): BindingRow {
  return {
    source: b.source,
    destination: b.destination.name,
    destinationType: b.destination.kind,
    routingKey: b.routingKey,
    arguments: b.arguments,
  };
}

/** A binding as /api/bindings shows it. */
export function bindingView(row: BindingRow, vhost: string): Json {
  return {
    source: row.source,
    vhost,
    destination: row.destination,
    destination_type: row.destinationType,
    routing_key: row.routingKey,
    arguments: tableJson(row.arguments),
    properties_key: propertiesKey(row.routingKey, row.arguments),
  };
}
