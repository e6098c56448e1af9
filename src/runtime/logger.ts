import pino from "pino";
import type { Log } from "../log.js";

/**
 * The process logger: pino, JSON lines on stdout (or stderr), level from settings.
 * `msg` carries the sentence an operator greps for; the fields carry the details.
 */
export function createLogger(level: string, destination: 1 | 2 = 1): Log {
  const logger = pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  );
  return {
    debug: (fields, msg) => logger.debug(fields, msg),
    info: (fields, msg) => logger.info(fields, msg),
    warn: (fields, msg) => logger.warn(fields, msg),
    error: (fields, msg) => logger.error(fields, msg),
  };
}
