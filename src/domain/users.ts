import type { UserConfig } from '../config.js';
import { hashSecret, verifySecret } from './password.js';

/** The built-in accounts of the config file (`users`), for the verification pages. */
export class UserDirectory {
  private readonly users: ReadonlyMap<string, UserConfig>;
  /** Verified against when the username is unknown, so both cases cost the same scrypt time. */
  private readonly decoy: Promise<string>;

  constructor(users: readonly UserConfig[]) {
    this.users = new Map(users.map((user) => [user.username, user]));
    this.decoy = hashSecret('devicegate-decoy-password');
  }

  /** The username when the password is right, else null; unknown users take as long as known ones. */
  async authenticate(username: string, password: string): Promise<string | null> {
    const user = this.users.get(username);
    const ok = await verifySecret(password, user?.password_hash ?? (await this.decoy));
    return user && ok ? user.username : null;
  }

  displayName(username: string): string {
    return this.users.get(username)?.name ?? username;
  }
}
