import type { UserLimits } from "./limits.js";
import { checkPassword, HASHING_ALGORITHM, hashPassword } from "./password-hash.js";

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

/** Users and their vhost permissions. */
export class UserStore {
  readonly users = new Map<string, User>();
  /** vhost -> user -> permission. */
  readonly permissions = new Map<string, Map<string, Permission>>();

  addUser(name: string, password: string, tags: string[] = []): User {
    const user: User = {
      name,
      passwordHash: hashPassword(password),
      hashingAlgorithm: HASHING_ALGORITHM,
      tags,
    };
    this.users.set(name, user);
    return user;
  }

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
}
