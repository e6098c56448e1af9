import { QUORUM_UNSUPPORTED_POLICY_KEYS } from "../quorum/quorum-arguments.js";
import { patternProblem } from "./pattern-safety.js";

/** What a policy applies to (RabbitMQ's apply-to values). */
export type ApplyTo =
  | "queues"
  | "exchanges"
  | "all"
  | "classic_queues"
  | "quorum_queues"
  | "streams";

export type PolicyKind = "policy" | "operator_policy";

/** A policy or operator policy: a regex over names, a priority, and a definition of keys. */
export interface Policy {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: ApplyTo;
  readonly priority: number;
  readonly definition: Readonly<Record<string, unknown>>;
}

type KeyCheck = (v: unknown) => string | undefined;

const nonNegInt: KeyCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 0 ? undefined : "must be a non-negative integer";
const posInt: KeyCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 1 ? undefined : "must be a positive integer";
/** RabbitMQ 4's delivery-limit: negative is unlimited (quorum queues). */
const int: KeyCheck = (v) => (Number.isInteger(v) ? undefined : "must be an integer");
const str: KeyCheck = (v) => (typeof v === "string" ? undefined : "must be a string");
/** An exchange name or routing key, which basic.deliver carries as a short string. */
const shortStr: KeyCheck = (v) =>
  typeof v !== "string"
    ? "must be a string"
    : Buffer.byteLength(v) > 255
      ? "must be at most 255 bytes"
      : undefined;
const any: KeyCheck = () => undefined;
const oneOf =
  (...values: string[]): KeyCheck =>
  (v) =>
    typeof v === "string" && values.includes(v) ? undefined : `must be one of ${values.join(", ")}`;

/** Keys a policy may set, with their checks (RabbitMQ's names, plus Warren's retry keys). */
const POLICY_KEYS: Record<string, KeyCheck> = {
  "message-ttl": nonNegInt,
  expires: posInt,
  "max-length": nonNegInt,
  "max-length-bytes": nonNegInt,
  overflow: oneOf("drop-head", "reject-publish", "reject-publish-dlx"),
  "dead-letter-exchange": shortStr,
  "dead-letter-routing-key": shortStr,
  "delivery-limit": int,
  "dead-letter-strategy": oneOf("at-most-once", "at-least-once"),
  "alternate-exchange": str,
  "queue-mode": oneOf("default", "lazy"),
  "queue-leader-locator": oneOf(
    "client-local",
    "balanced",
    "random",
    "least-leaders",
    "min-masters",
  ),
  // RabbitMQ 4: the member count a quorum queue's membership is grown back to.
  "target-group-size": posInt,
  "queue-master-locator": oneOf("client-local", "min-masters", "random"),
  "consumer-timeout": nonNegInt,
  "retry-delay": nonNegInt,
  "retry-delay-max": nonNegInt,
  // Classic mirrored queues were removed in RabbitMQ 4.0; accepted so OpenStack's
  // recommended policies (seed 003) apply, and reported as having no effect.
  "ha-mode": oneOf("all", "exactly", "nodes"),
  "ha-params": any,
  "ha-sync-mode": oneOf("manual", "automatic"),
  "ha-sync-batch-size": posInt,
  "ha-promote-on-shutdown": oneOf("when-synced", "always"),
  "ha-promote-on-failure": oneOf("when-synced", "always"),
};

/** RabbitMQ operator policies may only set these (caps on resources). */
const OPERATOR_KEYS = new Set([
  "expires",
  "message-ttl",
  "max-length",
  "max-length-bytes",
  "delivery-limit",
  "consumer-timeout",
  "target-group-size",
]);

/** Policy keys that have no effect on a classic queue in Warren (and RabbitMQ 4.x). */
export const NO_EFFECT_KEYS = new Set(Object.keys(POLICY_KEYS).filter((k) => k.startsWith("ha-")));

/** Checks a policy before it is stored; returns the problems in RabbitMQ-like words. */
export function validatePolicy(kind: PolicyKind, p: Policy): string[] {
  const problems: string[] = [];
  const patternWrong = patternProblem(p.pattern);
  if (patternWrong) problems.push(patternWrong);
  if (
    !["queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams"].includes(
      p.applyTo,
    )
  ) {
    problems.push(
      `apply-to '${p.applyTo}' is not one of queues, exchanges, all, classic_queues, quorum_queues, streams`,
    );
  }
  if (!Number.isInteger(p.priority)) problems.push("priority must be an integer");
  if (Object.keys(p.definition).length === 0) problems.push("the definition is empty");
  for (const [key, value] of Object.entries(p.definition)) {
    const check = Object.hasOwn(POLICY_KEYS, key) ? POLICY_KEYS[key] : undefined;
    if (!check) problems.push(`'${key}' is not a recognised policy key`);
    else if (kind === "operator_policy" && !OPERATOR_KEYS.has(key)) {
      problems.push(
        `'${key}' cannot be set by an operator policy (allowed: ${[...OPERATOR_KEYS].join(", ")})`,
      );
    } else {
      const problem = check(value);
      if (problem) problems.push(`${key}: ${problem}`);
    }
  }
  return problems;
}

const compiled = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * Policy keys a queue type does not support: a policy that sets one does not apply
 * to that type's queues at all (rabbit_queue_type:is_policy_applicable/2).
 */
const UNSUPPORTED_POLICY_KEYS: Readonly<Record<string, ReadonlySet<string>>> = {
  quorum: QUORUM_UNSUPPORTED_POLICY_KEYS,
};

function supportedBy(p: Policy, queueType: string): boolean {
  // Own keys only: a queue's x-queue-type is a client's string.
  const unsupported = Object.hasOwn(UNSUPPORTED_POLICY_KEYS, queueType)
    ? UNSUPPORTED_POLICY_KEYS[queueType]
    : undefined;
  return !unsupported || !Object.keys(p.definition).some((k) => unsupported.has(k));
}

function appliesTo(p: Policy, kind: "queue" | "exchange", queueType: string): boolean {
  if (kind === "queue" && !supportedBy(p, queueType)) return false;
  switch (p.applyTo) {
    case "all":
      return true;
    case "exchanges":
      return kind === "exchange";
    case "queues":
      return kind === "queue";
    case "classic_queues":
      return kind === "queue" && queueType === "classic";
    case "quorum_queues":
      return kind === "queue" && queueType === "quorum";
    case "streams":
      return kind === "queue" && queueType === "stream";
  }
}

/**
 * Policies and operator policies per vhost. At most one policy of each kind applies
 * to a queue or exchange: the matching one with the highest priority (ties go to
 * the name that sorts first, so the choice is stable). Patterns are regexes matched
 * anywhere in the name, as RabbitMQ matches them; the default exchange is exempt.
 */
export class PolicyStore {
  private readonly byKind: Record<PolicyKind, Map<string, Map<string, Policy>>> = {
    policy: new Map(),
    operator_policy: new Map(),
  };

  set(kind: PolicyKind, p: Policy): void {
    let byName = this.byKind[kind].get(p.vhost);
    if (!byName) {
      byName = new Map();
      this.byKind[kind].set(p.vhost, byName);
    }
    byName.set(p.name, p);
  }

  clear(kind: PolicyKind, vhost: string, name: string): boolean {
    return this.byKind[kind].get(vhost)?.delete(name) ?? false;
  }

  get(kind: PolicyKind, vhost: string, name: string): Policy | undefined {
    return this.byKind[kind].get(vhost)?.get(name);
  }

  list(kind: PolicyKind, vhost?: string): Policy[] {
    const maps =
      vhost === undefined
        ? [...this.byKind[kind].values()]
        : [this.byKind[kind].get(vhost) ?? new Map()];
    return maps
      .flatMap((m) => [...m.values()])
      .sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name));
  }

  dropVhost(vhost: string): void {
    this.byKind.policy.delete(vhost);
    this.byKind.operator_policy.delete(vhost);
  }

  /** The policy of this kind that applies to a queue or exchange, if any. */
  match(
    kind: PolicyKind,
    vhost: string,
    objectKind: "queue" | "exchange",
    name: string,
    queueType = "classic",
  ): Policy | undefined {
    if (objectKind === "exchange" && name === "") return undefined;
    let best: Policy | undefined;
    for (const p of this.byKind[kind].get(vhost)?.values() ?? []) {
      if (!appliesTo(p, objectKind, queueType) || !regex(p.pattern).test(name)) continue;
      if (
        !best ||
        p.priority > best.priority ||
        (p.priority === best.priority && p.name < best.name)
      )
        best = p;
    }
    return best;
  }
}
