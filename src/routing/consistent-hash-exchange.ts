import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable } from "../protocol/field-table.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import type { Binding, Destination, ExchangeRouter, RoutingInput } from "./binding.js";

interface Point {
  readonly at: number;
  readonly binding: Binding;
}

/** FNV-1a over UTF-8, then a final avalanche: a fast, well-spread 32-bit hash. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(text);
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * x-consistent-hash (built in; RabbitMQ needs a plugin): each binding's key is its
 * weight, the number of points it gets on a hash ring; a message goes to the one
 * destination whose point follows the hash of its routing key (or of the header
 * named by the exchange argument hash-header, or the property named by
 * hash-property). Adding or removing a destination moves only its share of keys.
 */
export class ConsistentHashExchange implements ExchangeRouter {
  private ring: Point[] = [];

  constructor(private readonly exchangeArgs: FieldTable) {}

  validate(binding: Binding): void {
    if (
      !/^\d+$/.test(binding.routingKey) ||
      Number(binding.routingKey) < 1 ||
      Number(binding.routingKey) > 10000
    ) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `binding key of an x-consistent-hash exchange must be a weight from 1 to 10000, got '${binding.routingKey}'`,
      );
    }
  }

  add(binding: Binding): void {
    const weight = Number(binding.routingKey) || 1;
    for (let i = 0; i < weight; i++) {
      this.ring.push({
        at: hash32(`${binding.destination.kind}:${binding.destination.name}:${i}`),
        binding,
      });
    }
    this.ring.sort((a, b) => a.at - b.at);
  }

  remove(binding: Binding): void {
    this.ring = this.ring.filter((p) => p.binding !== binding);
  }

  route(input: RoutingInput, out: Set<Destination>): void {
    if (this.ring.length === 0) return;
    const h = hash32(this.key(input));
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ring[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    out.add(this.ring[lo === this.ring.length ? 0 : lo]!.binding.destination);
  }

  private key(input: RoutingInput): string {
    const header = this.exchangeArgs.get("hash-header");
    if (header?.type === "S") {
      const v = input.headers().get(header.value.toString());
      if (v === undefined) return "";
      return v.type === "S" || v.type === "x" ? v.value.toString() : String(v.value);
    }
    return input.routingKey;
  }
}
