import { NO_EFFECT_KEYS, type PolicyKind, validatePolicy } from "../policies.js";
import { Changes, operatorVhost, unchanged } from "./changes.js";
import type { PolicyClear, PolicySet, Results } from "./command-types.js";
import { type CommandOutcome, CommandRefusedError } from "./effects.js";
import type { MetadataState } from "./metadata-state.js";

const label = (kind: PolicyKind) => (kind === "policy" ? "policy" : "operator policy");

/** Stores a policy after checking it; the vhost's queues and exchanges then take it up. */
export function setPolicy(
  state: MetadataState,
  c: PolicySet,
): CommandOutcome<Results["policy.set"]> {
  const p = c.policy;
  operatorVhost(state, p.vhost);
  const problems = validatePolicy(c.kind, p);
  if (problems.length > 0)
    throw new CommandRefusedError(`Validation failed: ${problems.join("; ")}`);
  const created = state.policies.get(c.kind, p.vhost, p.name) === undefined;
  state.policies.set(c.kind, { ...p, definition: { ...p.definition } });
  const ignored = Object.keys(p.definition).filter((k) => NO_EFFECT_KEYS.has(k));
  const changes = new Changes();
  changes.log(
    `${label(c.kind)} '${p.name}' set in vhost '${p.vhost}'` +
      (ignored.length ? `; keys with no effect on classic queues: ${ignored.join(", ")}` : ""),
    {
      kind: c.kind,
      vhost: p.vhost,
      policy: p.name,
      pattern: p.pattern,
      definition: p.definition,
    },
  );
  changes.push({ kind: "policies.apply", vhost: p.vhost });
  changes.persist();
  return changes.done({ created });
}

export function clearPolicy(
  state: MetadataState,
  c: PolicyClear,
): CommandOutcome<Results["policy.clear"]> {
  if (!state.policies.clear(c.kind, c.vhost, c.name)) return unchanged({ cleared: false });
  const changes = new Changes();
  changes.log(`${label(c.kind)} '${c.name}' cleared in vhost '${c.vhost}'`, {
    kind: c.kind,
    vhost: c.vhost,
    policy: c.name,
  });
  changes.push({ kind: "policies.apply", vhost: c.vhost });
  changes.persist();
  return changes.done({ cleared: true });
}
