/**
 * The one place that knows how FetchML stores a key (SHA-256, lowercase hex) and how this
 * project tells keys apart in public output. A second hashing scheme (Argon2id in later
 * FetchML versions) would be added here.
 */
import { createHash } from "node:crypto";

/** What FetchML's `auth.api_keys.<user>.hash` holds. As sensitive as the key itself. */
export function hashApiKey(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

/**
 * A short public label for a key: 12 hex characters of a domain-separated SHA-256.
 * Deliberately not a prefix of the stored hash: FetchML's WebSocket protocol sends the
 * hash's first 16 bytes, so a hash prefix would be a credential fragment.
 */
export function keyFingerprint(apiKey: string): string {
  return createHash("sha256").update("fetchml-keys/fingerprint/v1\0").update(apiKey, "utf8").digest("hex").slice(0, 12);
}

/**
 * Keys are drawn from letters and digits only, so they need no quoting in YAML, TOML or a
 * shell. 48 characters of 62 symbols is about 285 bits, comfortably over 256 even with one
 * character of each class forced.
 */
export const KEY_SPEC = {
  length: 48,
  upper: true,
  lower: true,
  numeric: true,
  special: false,
  minUpper: 1,
  minLower: 1,
  minNumeric: 1,
} as const;

/**
 * The resource name of a user's key (its URN ends in it). The one place that says it: the key
 * is declared with it (components/userKeys.ts) and the access summary finds whose key the engine
 * replaces by it (lib/accessSummary.ts). Part of the state format: a new name is a new key.
 */
export function keyResourceName(user: string): string {
  return `${user}-key`;
}
