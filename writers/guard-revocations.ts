/**
 * Run by the RevocationGuard's command when the set of active users changes. Compares it
 * with the previous run's (PULUMI_COMMAND_STDOUT) and fails when too many would lose access
 * and the admin did not allow it for this run. Prints the active names (public) on stdout.
 */
import { InputError, readStdinJson, runWriter } from "./io";

runWriter("guard-revocations", async (mode) => {
  if (mode !== "check") throw new InputError(`unknown mode "${mode}" (expected check)`);
  const request = await readStdinJson<{ active: string[]; maxRevokedShare: number }>();
  const previous = parsePrevious(process.env.PULUMI_COMMAND_STDOUT);
  const revoked = previous.filter((name) => !request.active.includes(name));
  const share = previous.length === 0 ? 0 : revoked.length / previous.length;
  const allowed = process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION === "1";
  if (share > request.maxRevokedShare && !allowed) {
    throw new InputError(
      `refusing to revoke ${revoked.length} of ${previous.length} active users (${Math.round(share * 100)}% > ` +
        `${Math.round(request.maxRevokedShare * 100)}%): ${revoked.join(", ")}. Nothing was changed. If this is ` +
        "intended, run again with --allow-mass-revocation (FETCHML_KEYS_ALLOW_MASS_REVOCATION=1)",
    );
  }
  if (revoked.length > 0) process.stderr.write(`guard: revoking ${revoked.join(", ")}${allowed ? " (allowed for this run)" : ""}\n`);
  process.stdout.write(JSON.stringify(request.active) + "\n");
});

function parsePrevious(stdout: string | undefined): string[] {
  try {
    const parsed = JSON.parse(stdout ?? "");
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}
