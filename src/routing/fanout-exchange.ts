import type { Binding, Destination, ExchangeRouter } from "./binding.js";

/** fanout: every bound destination gets every message; routing keys are ignored. */
export class FanoutExchange implements ExchangeRouter {
  private readonly bindings = new Set<Binding>();

  add(binding: Binding): void {
    this.bindings.add(binding);
  }

  remove(binding: Binding): void {
    this.bindings.delete(binding);
  }

  route(_input: unknown, out: Set<Destination>): void {
    for (const b of this.bindings) out.add(b.destination);
  }
}
