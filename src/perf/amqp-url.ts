/** Where and as whom to connect, from an amqp:// URL. */
export interface AmqpEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly vhost: string;
}

/**
 * Reads amqp://user:pass@host:port/vhost as amqplib does: the vhost is the
 * URL-decoded path after the first slash, and "/" when the path is empty
 * (so amqp://host and amqp://host/ both mean vhost "/", and %2F spells "/" explicitly).
 */
export function parseAmqpUrl(url: string): AmqpEndpoint {
  const u = new URL(url);
  if (u.protocol !== "amqp:") throw new Error(`not an amqp:// URL: ${url}`);
  const path = u.pathname.startsWith("/") ? u.pathname.slice(1) : u.pathname;
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: u.port ? Number(u.port) : 5672,
    username: u.username ? decodeURIComponent(u.username) : "guest",
    password: u.password ? decodeURIComponent(u.password) : "guest",
    vhost: path === "" ? "/" : decodeURIComponent(path),
  };
}
