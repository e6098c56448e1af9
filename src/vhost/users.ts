import type { UserLimits } from "./limits.js";
import { checkPassword } from "./password-hash.js";

export interface User {
  readonly name: string;
  passwordHash: string;
  readonly hashingAlgorithm: string;
  tags: string[];
  limits?: UserLimits;
}

/** configure, write and read regular expressions for one user in one vhost (RabbitMQ permissions). */
export interface Permission {
  configure: string;
  write: string;
  read: string;
}

/**
 * RabbitMQ's topic permissions: for one user, vhost and topic exchange, the write and
 * read regexes that routing keys must match. They may use {username} and {vhost}
 * ({client_id} too, which only MQTT connections supply).
 */
export interface TopicPermission {
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** Users, their vhost permissions and their topic permissions. */
export class UserStore {
  readonly users = new Map<string, User>();
  /** vhost -> user -> permission. */
  readonly permissions = new Map<string, Map<string, Permission>>();
  /** vhost -> user -> exchange -> topic permission. */
  readonly topicPermissions = new Map<string, Map<string, Map<string, TopicPermission>>>();

  /** The user when the password is right; undefined otherwise (never says which part was wrong). */
  authenticate(name: string, password: string): User | undefined {
    const user = this.users.get(name);
    if (!user || user.passwordHash === "") return undefined;
    return checkPassword(password, user.passwordHash) ? user : undefined;
  }

  setPermission(vhost: string, user: string, permission: Permission): void {
    let byUser = this.permissions.get(vhost);
    if (!byUser) {
      byUser = new Map();
      this.permissions.set(vhost, byUser);
    }
    byUser.set(user, permission);
  }

  permission(vhost: string, user: string): Permission | undefined {
    return this.permissions.get(vhost)?.get(user);
  }

  setTopicPermission(vhost: string, user: string, permission: TopicPermission): void {
    let byUser = this.topicPermissions.get(vhost);
    if (!byUser) {
      byUser = new Map();
      this.topicPermissions.set(vhost, byUser);
    }
    let byExchange = byUser.get(user);
    if (!byExchange) {
      byExchange = new Map();
      byUser.set(user, byExchange);
    }
    byExchange.set(permission.exchange, { ...permission });
  }

  /**
   * Clears a user's permission in a vhost; whether there was one. No empty map is left
   * behind: two nodes with the same permissions must hold the same maps, in the same order,
   * whether they applied every change or restored a snapshot (the simulator checks it).
   */
  clearPermission(vhost: string, user: string): boolean {
    const byUser = this.permissions.get(vhost);
    const cleared = byUser?.delete(user) ?? false;
    if (byUser?.size === 0) this.permissions.delete(vhost);
    return cleared;
  }

  /** Clears one exchange's topic permission, or all of the user's in the vhost (rabbitmqctl clear_topic_permissions). */
  clearTopicPermission(vhost: string, user: string, exchange?: string): void {
    const byUser = this.topicPermissions.get(vhost);
    if (!byUser) return;
    if (exchange === undefined) byUser.delete(user);
    else {
      const byExchange = byUser.get(user);
      byExchange?.delete(exchange);
      if (byExchange?.size === 0) byUser.delete(user);
    }
    if (byUser.size === 0) this.topicPermissions.delete(vhost);
  }

  /** A deleted user takes its permissions and topic permissions in every vhost with it. */
  dropUser(user: string): void {
    for (const vhost of [...this.permissions.keys()]) this.clearPermission(vhost, user);
    for (const vhost of [...this.topicPermissions.keys()]) this.clearTopicPermission(vhost, user);
  }

  /** Undefined means none is set, which RabbitMQ treats as "every routing key allowed". */
  topicPermission(vhost: string, user: string, exchange: string): TopicPermission | undefined {
    return this.topicPermissions.get(vhost)?.get(user)?.get(exchange);
  }

  /** A deleted vhost takes its permissions and topic permissions with it. */
  dropVhost(vhost: string): void {
    this.permissions.delete(vhost);
    this.topicPermissions.delete(vhost);
  }
}
