import type { Binding, Destination, ExchangeRouter } from "./binding.js";

/** fanout: every bound destination gets every message; routing keys are ignored. */
export class FanoutExchange implements ExchangeRouter {
  private readonly bindings: Binding[] = [];

  add(binding: Binding): void {
    this.bindings.push(binding);
  }

  remove(binding: Binding): void {
    const at = this.bindings.indexOf(binding);
    if (at >= 0) this.bindings.splice(at, 1);
  }

  route(_input: unknown, out: Set<Destination>): void {
    for (const b of this.bindings) out.add(b.destination);
  }
}
