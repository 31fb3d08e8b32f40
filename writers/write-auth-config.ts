/**
 * Run by the AuthConfig and AuthRevocation components' commands, for one target (a local
 * file or a server over SSH, see targets.ts). Modes:
 *   apply   merge the rendered `auth.api_keys` into the config, then reload the server
 *   revoke  only take out entries not allowed (entries {}, preserve = who may stay)
 *   remove  take this stack's entries out again (destroy)
 * Input on stdin: {"target", "entries", "preserve"} ({"path"} is a local target). The file is
 * written and the server reloaded only when the content changes. Prints usernames only.
 */
import type { ApiKeyEntry } from "../lib/authSection";
import { type AuthEditResult, mergeAuthConfig, removeAuthEntries } from "../lib/mergeAuthConfig";
import { InputError, readStdinJson, runWriter } from "./io";
import { openTarget, type Target } from "./targets";

export interface AuthWriteRequest {
  target?: Target;
  path?: string;
  entries: Record<string, ApiKeyEntry>;
  preserve: string[];
}

runWriter("write-auth-config", async (mode) => {
  if (!["apply", "revoke", "remove"].includes(mode)) throw new InputError(`unknown mode "${mode}" (expected apply, revoke or remove)`);
  const request = await readStdinJson<AuthWriteRequest>();
  const target: Target | undefined = request?.target ?? (typeof request?.path === "string" ? { kind: "local", path: request.path } : undefined);
  if (!target || typeof request.entries !== "object") throw new InputError("stdin lacks target or entries");
  const io = openTarget(target);
  try {
    const current = await io.read();
    if (mode !== "apply" && current === undefined) {
      console.log(`auth config ${io.label}: absent, nothing to remove`);
      return;
    }
    // revoke: the apply plan with nothing to add (entries {}), so only removals happen.
    const result =
      mode === "remove"
        ? removeAuthEntries(current ?? "", Object.keys(request.entries), io.label)
        : mergeAuthConfig(current, request.entries, request.preserve ?? [], io.label);
    if (result.changed) {
      await io.write(result.text);
      await io.reload();
    }
    console.log(summarize(io.label, result, mode));
  } finally {
    io.close();
  }
});

function summarize(label: string, r: AuthEditResult, mode: string): string {
  if (!r.changed) return `auth config ${label}: no change`;
  const parts = [
    r.added.length > 0 ? `added ${r.added.join(", ")}` : "",
    r.updated.length > 0 ? `updated ${r.updated.join(", ")}` : "",
    r.removed.length > 0
      ? mode !== "remove"
        ? `REVOKED ${r.removed.join(", ")} (no active user of that name in stack config)`
        : `removed ${r.removed.join(", ")}`
      : "",
  ].filter(Boolean);
  return `auth config ${label}: ${parts.join("; ")}`;
}
