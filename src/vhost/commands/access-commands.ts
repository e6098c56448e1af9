import { USER_LIMIT_NAMES, type UserLimits } from "../limits.js";
import { patternProblem } from "../pattern-safety.js";
import type { User } from "../users.js";
import { Changes, unchanged } from "./changes.js";
import type {
  PermissionClear,
  PermissionSet,
  Results,
  TopicPermissionClear,
  TopicPermissionSet,
  UserDelete,
  UserPut,
  UserSetLimit,
} from "./command-types.js";
import { type CommandOutcome, CommandRefusedError } from "./effects.js";
import type { MetadataState } from "./metadata-state.js";

/** Every change here is durable: one save each. */
function saved<R>(result: R): CommandOutcome<R> {
  const changes = new Changes();
  changes.persist();
  return changes.done(result);
}

/**
 * Creates a user or updates one. An update changes the password hash and tags in
 * place (an open connection's user sees its new tags), keeping the limits.
 */
export function putUser(state: MetadataState, c: UserPut): CommandOutcome<Results["user.put"]> {
  const existing = state.users.users.get(c.user);
  if (existing) {
    existing.passwordHash = c.passwordHash;
    existing.tags = [...c.tags];
  } else {
    const user: User = {
      name: c.user,
      passwordHash: c.passwordHash,
      hashingAlgorithm: c.hashingAlgorithm,
      tags: [...c.tags],
    };
    state.users.users.set(c.user, user);
  }
  return saved({ created: !existing });
}

/** Deletes a user and every permission it had. */
export function deleteUser(
  state: MetadataState,
  c: UserDelete,
): CommandOutcome<Results["user.delete"]> {
  const users = state.users;
  if (!users.users.delete(c.user)) return unchanged({ deleted: false });
  users.dropUser(c.user);
  return saved({ deleted: true });
}

export function setUserLimit(
  state: MetadataState,
  c: UserSetLimit,
): CommandOutcome<Results["user.set-limit"]> {
  const user = state.users.users.get(c.user);
  if (!user) throw new CommandRefusedError(`user '${c.user}' does not exist`);
  if (!Object.hasOwn(USER_LIMIT_NAMES, c.limit))
    throw new CommandRefusedError(`unknown user limit '${c.limit}'`);
  const key = USER_LIMIT_NAMES[c.limit];
  const limits: UserLimits = { ...user.limits };
  if (c.value === undefined) delete limits[key];
  else limits[key] = c.value;
  user.limits = Object.keys(limits).length > 0 ? limits : undefined;
  return saved({});
}

/** The vhost and user must exist, and each pattern compile the way the broker will run it. */
function checkPermissionTarget(state: MetadataState, vhost: string, user: string): void {
  if (!state.vhosts.has(vhost)) throw new CommandRefusedError(`vhost_not_found: '${vhost}'`);
  if (!state.users.users.has(user)) throw new CommandRefusedError(`user_not_found: '${user}'`);
}

function checkPatterns(patterns: Record<string, string>): void {
  for (const [k, v] of Object.entries(patterns)) {
    const problem = patternProblem(v);
    if (problem) throw new CommandRefusedError(`${k}: ${problem}`);
  }
}

export function setPermission(
  state: MetadataState,
  c: PermissionSet,
): CommandOutcome<Results["permission.set"]> {
  checkPermissionTarget(state, c.vhost, c.user);
  const p = { configure: c.configure, write: c.write, read: c.read };
  checkPatterns(p);
  const created = state.users.permission(c.vhost, c.user) === undefined;
  state.users.setPermission(c.vhost, c.user, p);
  return saved({ created });
}

export function clearPermission(
  state: MetadataState,
  c: PermissionClear,
): CommandOutcome<Results["permission.clear"]> {
  const cleared = state.users.clearPermission(c.vhost, c.user);
  return cleared ? saved({ cleared }) : unchanged({ cleared });
}

export function setTopicPermission(
  state: MetadataState,
  c: TopicPermissionSet,
): CommandOutcome<Results["topic-permission.set"]> {
  checkPermissionTarget(state, c.vhost, c.user);
  checkPatterns({ write: c.write, read: c.read });
  state.users.setTopicPermission(c.vhost, c.user, {
    exchange: c.exchange,
    write: c.write,
    read: c.read,
  });
  return saved({});
}

export function clearTopicPermission(
  state: MetadataState,
  c: TopicPermissionClear,
): CommandOutcome<Results["topic-permission.clear"]> {
  state.users.clearTopicPermission(c.vhost, c.user, c.exchange);
  return saved({});
}
