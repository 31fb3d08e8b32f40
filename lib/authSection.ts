/**
 * Renders FetchML's `auth.api_keys` entries (internal/auth/api_key.go's APIKeyEntry) from
 * users and their hashes. Pure; the merge into the server's file is in mergeAuthConfig.ts.
 */
import type { Access } from "../config/roles";

export interface ApiKeyEntry {
  hash: string;
  admin: boolean;
  roles: string[];
  permissions: Record<string, boolean>;
}

export interface ActiveUser {
  name: string;
  apiKeyHash: string;
  access: Access;
}

/** Entries keyed by username, in name order, fields in FetchML's order. */
export function renderApiKeyEntries(users: readonly ActiveUser[]): Record<string, ApiKeyEntry> {
  const entries: Record<string, ApiKeyEntry> = {};
  for (const user of [...users].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!/^[0-9a-f]{64}$/.test(user.apiKeyHash)) {
      throw new Error(`auth entry for ${user.name}: hash is not 64 lowercase hex characters`);
    }
    entries[user.name] = {
      hash: user.apiKeyHash,
      admin: user.access.admin,
      roles: [...user.access.roles],
      permissions: { ...user.access.permissions },
    };
  }
  return entries;
}
