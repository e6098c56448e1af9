/**
 * The logging interface the cores use; the runtime backs it with pino. Fields are
 * structured; messages are sentences an operator can grep (RabbitMQ's words where
 * operators already search for them).
 */
export interface Log {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
