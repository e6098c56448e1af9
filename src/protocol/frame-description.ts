/**
 * How RabbitMQ describes a frame in FRAME_ERROR and UNEXPECTED_FRAME texts:
 * "type 1, all octets = <<0,60,0,40,0>>" (or "first 16 octets" for longer
 * payloads), so operators can search Warren's errors as they search RabbitMQ's.
 */
export function describeFrame(type: number, payload: Buffer): string {
  const shown = payload.subarray(0, 16);
  const which = payload.length <= 16 ? "all" : "first 16";
  return `type ${type}, ${which} octets = ${erlangBinary(shown)}`;
}

export function erlangBinary(bytes: Buffer): string {
  return `<<${[...bytes].join(",")}>>`;
}
