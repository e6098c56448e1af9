import type { Binding, Destination, ExchangeRouter, RoutingInput } from "./binding.js";

/** direct: a message goes to the bindings whose key equals its routing key. */
export class DirectExchange implements ExchangeRouter {
  private readonly byKey = new Map<string, Binding[]>();

  add(binding: Binding): void {
    const list = this.byKey.get(binding.routingKey);
    if (list) list.push(binding);
    else this.byKey.set(binding.routingKey, [binding]);
  }

  remove(binding: Binding): void {
    const list = this.byKey.get(binding.routingKey);
    if (!list) return;
    const at = list.indexOf(binding);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byKey.delete(binding.routingKey);
  }

  route(input: RoutingInput, out: Set<Destination>): void {
    const list = this.byKey.get(input.routingKey);
    if (!list) return;
    for (const b of list) out.add(b.destination);
  }
}
