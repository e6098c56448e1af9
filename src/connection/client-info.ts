import type { FieldTable } from "../protocol/field-table.js";

/** What a client told us about itself in connection.start-ok. */
export interface ClientInfo {
  readonly properties: FieldTable;
  /** Capabilities the client set to true (e.g. authentication_failure_close, connection.blocked). */
  readonly capabilities: ReadonlySet<string>;
}

export function clientInfoFrom(properties: FieldTable): ClientInfo {
  const capabilities = new Set<string>();
  const caps = properties.get("capabilities");
  if (caps?.type === "F") {
    for (const [k, v] of caps.value) if (v.type === "t" && v.value) capabilities.add(k);
  }
  return { properties, capabilities };
}

/** A string-valued client property (product, version, connection_name, ...). */
export function clientProperty(info: ClientInfo, key: string): string | undefined {
  const v = info.properties.get(key);
  return v?.type === "S" || v?.type === "x" ? v.value.toString() : undefined;
}

/** Loopback addresses: 127.0.0.0/8, ::1 and IPv4-mapped loopback (RabbitMQ loopback_users). */
export function isLoopback(address: string): boolean {
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || a.startsWith("127.");
}
