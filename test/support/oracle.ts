/**
 * Expected values computed independently of the program: a test that asked lib/keys for the
 * hash it then expects would pass with any hash function. The seed documents the stored form
 * of `auth.api_keys.<user>.hash` as the lowercase hex SHA-256 of the raw key (UTF-8); this is
 * that, with node:crypto. Compare its results through test/support/secrets.ts (never printed).
 */
import { createHash } from "node:crypto";

/** What FetchML's `auth.api_keys.<user>.hash` must hold for this key. */
export function expectedHash(apiKey: string): string {
  return createHash("sha256").update(Buffer.from(apiKey, "utf8")).digest("hex");
}
