/**
 * Run by the AuthConfig component's command: merges the rendered `auth.api_keys` into the
 * FetchML server config (`apply`), takes out every entry not declared (`revoke`: entries
 * {}, preserve = who may stay), or takes this stack's entries out again (`remove`, on
 * destroy). Input on stdin: {"path", "entries", "preserve"}. Prints only usernames.
 */
import * as path from "node:path";
import type { ApiKeyEntry } from "../lib/authSection";
import { readFileIfExists, writeFileAtomic } from "../lib/atomicFile";
import { type AuthEditResult, mergeAuthConfig, removeAuthEntries } from "../lib/mergeAuthConfig";
import { InputError, readStdinJson, runWriter } from "./io";

export interface AuthWriteRequest {
  path: string;
  entries: Record<string, ApiKeyEntry>;
  preserve: string[];
}

runWriter("write-auth-config", async (mode) => {
  if (!["apply", "revoke", "remove"].includes(mode)) throw new InputError(`unknown mode "${mode}" (expected apply, revoke or remove)`);
  const request = await readStdinJson<AuthWriteRequest>();
  if (typeof request?.path !== "string" || typeof request.entries !== "object") {
    throw new InputError("stdin lacks path or entries");
  }
  const file = path.resolve(request.path);
  const current = readFileIfExists(file);
  if (mode !== "apply" && current === undefined) {
    console.log(`auth config ${file}: absent, nothing to remove`);
    return;
  }
  // revoke: the apply plan with nothing to add (entries {}), so only removals happen.
  const result =
    mode === "remove"
      ? removeAuthEntries(current ?? "", Object.keys(request.entries), file)
      : mergeAuthConfig(current, request.entries, request.preserve ?? [], file);
  if (result.changed) writeFileAtomic(file, result.text, { backup: current !== undefined });
  console.log(summarize(file, result, mode));
});

function summarize(file: string, r: AuthEditResult, mode: string): string {
  if (!r.changed) return `auth config ${file}: no change`;
  const parts = [
    r.added.length > 0 ? `added ${r.added.join(", ")}` : "",
    r.updated.length > 0 ? `updated ${r.updated.join(", ")}` : "",
    r.removed.length > 0
      ? mode !== "remove"
        ? `REVOKED ${r.removed.join(", ")} (in the file but not declared in stack config)`
        : `removed ${r.removed.join(", ")}`
      : "",
  ].filter(Boolean);
  return `auth config ${file}: ${parts.join("; ")}`;
}
