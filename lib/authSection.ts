/**
 * FetchML's `auth.api_keys` entries (internal/auth/api_key.go's APIKeyEntry): rendering them
 * from users and their hashes, and the digest that says whether an entry on a target is the
 * one wanted. Pure; the merge into the server's file is in mergeAuthConfig.ts.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { type Access, accessSchema } from "../config/roles";

/** A key's hash as FetchML stores it: SHA-256, lowercase hex (lib/keys.ts hashApiKey). */
export const apiKeyHash = z.string().regex(/^[0-9a-f]{64}$/, { error: "is not 64 lowercase hex characters" });

/** One `auth.api_keys.<user>` entry: the key's hash and what it grants. auth-write's request carries it as is (steps/auth.ts). */
export const apiKeyEntry = z.strictObject({ hash: apiKeyHash, ...accessSchema.shape });
export type ApiKeyEntry = z.infer<typeof apiKeyEntry>;

export interface ActiveUser {
  name: string;
  apiKeyHash: string;
  access: Access;
}

export function renderApiKeyEntry(user: ActiveUser): ApiKeyEntry {
  if (!apiKeyHash.safeParse(user.apiKeyHash).success)
    throw new Error(`auth entry for ${user.name}: hash is not 64 lowercase hex characters`);
  return {
    hash: user.apiKeyHash,
    admin: user.access.admin,
    roles: [...user.access.roles],
    permissions: { ...user.access.permissions },
  };
}

/** Entries keyed by username (a Map: any valid username is a plain key), in name order. */
export function renderApiKeyEntries(users: readonly ActiveUser[]): Map<string, ApiKeyEntry> {
  const sorted = [...users].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new Map(sorted.map((user) => [user.name, renderApiKeyEntry(user)]));
}

/**
 * A digest of one entry as FetchML reads it (field order and formatting do not matter), so a
 * reader can say "the entry on the target is (not) the one wanted" without handing the hash
 * itself to anything. It is a SHA-256 over the entry, hash included: kept in memory only.
 */
export function entryDigest(entry: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(canonical(entry) ?? null))
    .digest("hex");
}

/** Objects with their keys sorted (own properties only): one byte form for equal content (digests). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
