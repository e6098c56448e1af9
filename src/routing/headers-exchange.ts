import { channelError } from "../protocol/amqp-error.js";
import type { FieldTable } from "../protocol/field-table.js";
import { describeValue, TYPE_NAMES } from "../protocol/field-value-text.js";
import { ReplyCode } from "../protocol/generated/constants.js";
import {
  type Binding,
  type Destination,
  type ExchangeRouter,
  fieldValuesEqual,
  type RoutingInput,
} from "./binding.js";

type MatchMode = "all" | "any" | "all-with-x" | "any-with-x";

/**
 * headers: bindings match on the message's headers table. x-match=all (the
 * default) needs every binding argument present and equal; any needs one. Arguments
 * starting with "x-" take part only in the -with-x modes (RabbitMQ 3.10+). An
 * argument of type void matches on the key's presence alone.
 */
export class HeadersExchange implements ExchangeRouter {
  private readonly bindings = new Set<Binding>();

  validate(binding: Binding): void {
    const v = binding.arguments.get("x-match");
    if (!v) return;
    if (v.type !== "S") {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `Invalid x-match field type ${TYPE_NAMES[v.type]} (value ${describeValue(v)}); expected longstr`,
      );
    }
    if (!matchMode(binding.arguments)) {
      throw channelError(
        ReplyCode.PRECONDITION_FAILED,
        `Invalid x-match field value <<"${v.value.toString()}">>; expected all, any, all-with-x, or any-with-x`,
      );
    }
  }

  add(binding: Binding): void {
    this.bindings.add(binding);
  }

  remove(binding: Binding): void {
    this.bindings.delete(binding);
  }

  route(input: RoutingInput, out: Set<Destination>): void {
    if (this.bindings.size === 0) return;
    const headers = input.headers();
    for (const b of this.bindings) {
      if (!out.has(b.destination) && headersMatch(b.arguments, headers)) out.add(b.destination);
    }
  }
}

export function matchMode(args: FieldTable): MatchMode | undefined {
  const v = args.get("x-match");
  if (!v) return "all";
  if (v.type !== "S") return undefined;
  const mode = v.value.toString();
  return mode === "all" || mode === "any" || mode === "all-with-x" || mode === "any-with-x"
    ? mode
    : undefined;
}

export function headersMatch(args: FieldTable, headers: FieldTable): boolean {
  const mode = matchMode(args) ?? "all";
  const withX = mode.endsWith("-with-x");
  const all = mode.startsWith("all");
  for (const [key, want] of args) {
    if (key === "x-match") continue;
    if (key.startsWith("x-") && !withX) continue;
    const got = headers.get(key);
    const ok = got !== undefined && (want.type === "V" || fieldValuesEqual(want, got));
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  // all: every considered argument matched (vacuously true with none); any: none did.
  return all;
}
