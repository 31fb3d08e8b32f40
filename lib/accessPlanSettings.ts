/** The stack-wide lines of the access plan (lib/accessPlan.ts): settings that change between runs. Pure. */
import type { PreviousSettings, SettingsOutput } from "../program/outputs";
import type { TargetInput } from "./accessPlanTargets";
import { escapeUnprintable, quoted } from "./printable";

export interface SettingsInput {
  targets: readonly TargetInput[];
  /** This run's stack-wide settings, and the last run's (absent when it recorded none). */
  settings?: SettingsOutput;
  previousSettings?: PreviousSettings;
}

/**
 * What changes stack-wide about where keys go and what users receive: entries that start or
 * stop being preserved (kept with their access, never checked), the vault organization, the
 * delivery directory, and the values in every user's ml config (the ml CLI sends the key to
 * apiUrl). Said only when the last run recorded its settings, so there is something to compare;
 * except the program the vault step runs with the secrets (cliLine), which is said whenever
 * there is nothing to compare it with.
 */
export function settingsLines(input: SettingsInput): string[] {
  const now = input.settings;
  const before = input.previousSettings;
  const cli = now ? cliLine(now, before) : undefined;
  if (!now || !before) return cli ? [cli] : [];
  const lines: string[] = [];
  const was = new Set(before.preserveEntries);
  const is = new Set(now.preserveEntries);
  for (const name of [...is].filter((n) => !was.has(n)).sort()) {
    const found = input.targets.filter((t) => t.reading.entries.has(name));
    lines.push(
      found.length > 0
        ? `! ${name}: now in preserveEntries: its entry stays, with its access, and is no longer checked, on ${found
            .map((t) => `${t.reading.label}${t.reading.entries.get(name)!.admin === true ? " (admin)" : ""}`)
            .join(", ")}`
        : `! ${name}: now in preserveEntries: an entry of that name is kept wherever it appears (none on the targets now)`,
    );
  }
  for (const name of [...was].filter((n) => !is.has(n)).sort())
    lines.push(`~ ${name}: no longer in preserveEntries: this stack manages (and removes) its entry`);
  if (before.bitwardenOrganization !== now.bitwardenOrganization) {
    lines.push(
      `~ vault organization ${before.bitwardenOrganization ?? "(none)"} -> ${now.bitwardenOrganization ?? "(none)"}: items are created in the new one, then removed from the old`,
    );
  }
  if (cli) lines.push(cli);
  // Where both runs had a vault. A last run that did not record them (1.0.0): what this run
  // uses is said, so a change that arrives with the upgrade is still seen.
  if (before.bitwardenOrganization !== null && now.bitwardenOrganization !== null) {
    const unrecorded = "(not recorded by the last run)";
    const prefixWas = before.bitwardenItemPrefix;
    if (prefixWas !== now.bitwardenItemPrefix)
      lines.push(
        `~ bitwarden.itemPrefix ${prefixWas == null ? unrecorded : quoted(prefixWas)} -> ${quoted(now.bitwardenItemPrefix!)}: ` +
          `every Bitwarden user's item is named "${escapeUnprintable(now.bitwardenItemPrefix!)} <user>"`,
      );
    const revokeWas = before.bitwardenOnRevoke;
    if (revokeWas !== now.bitwardenOnRevoke)
      lines.push(
        `~ bitwarden.onRevoke ${revokeWas ?? unrecorded} -> ${now.bitwardenOnRevoke}: ${ON_REVOKE[now.bitwardenOnRevoke as keyof typeof ON_REVOKE]}`,
      );
    const [repairWas, repair] = [before.bitwardenRepair ?? 0, now.bitwardenRepair ?? 0];
    if (repairWas !== repair)
      lines.push(
        `~ bitwarden.repair ${repairWas} -> ${repair}: up reads every Bitwarden user's item back and writes again ` +
          "each one that is gone, trashed, moved or changed by hand, with the key it has now (the vault is read during up, not in this preview)",
      );
  }
  if (before.deliveryDir !== now.deliveryDir) {
    lines.push(
      `~ deliveryDir ${before.deliveryDir ?? "(none)"} -> ${now.deliveryDir ?? "(none)"}` +
        (now.deliveryDir ? `: direct users' ml configs (with their keys) are written there` : ": no more delivery files"),
    );
  }
  for (const field of ["apiUrl", "workerHost", "workerPort"] as const) {
    if (before.client[field] !== now.client[field]) {
      lines.push(
        `~ ml config ${field} ${quoted(before.client[field])} -> ${quoted(now.client[field])}: every user's ~/.ml/config.toml, ` +
          "where their ml CLI sends its key",
      );
    }
  }
  return lines;
}

/** What the vault step does with a revoked user's item, by `bitwarden.onRevoke`. */
const ON_REVOKE = {
  trash: "a revoked user's item goes to the vault's trash",
  delete: "a revoked user's item is deleted for good",
  keep: "a revoked user's item stays, their old key in it",
};

const WITH_SECRETS = "the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)";

/**
 * The `bw` the vault step runs with the secrets (`bitwarden.cli`): a change, old -> new; and on
 * a first run, or after a version that did not record it (1.0.0), which one this run uses, so
 * a cli that arrives with the upgrade or the first run is still seen. Nothing without a vault.
 */
function cliLine(now: SettingsOutput, before: PreviousSettings | undefined): string | undefined {
  if (now.bitwardenOrganization === null) return undefined;
  const cli = showCli(now.bitwardenCli);
  if (!before) return `+ bitwarden.cli ${cli}: ${WITH_SECRETS}`;
  if (before.bitwardenOrganization !== null && before.bitwardenCli === undefined)
    return `~ bitwarden.cli (not recorded by the last run) -> ${cli}: ${WITH_SECRETS}`;
  const was = before.bitwardenOrganization === null ? "(no vault)" : showCli(before.bitwardenCli!);
  return was === cli ? undefined : `~ bitwarden.cli ${was} -> ${cli}: ${WITH_SECRETS}`;
}

function showCli(cli: string | null): string {
  return cli === null ? "(the pinned @bitwarden/cli)" : quoted(cli);
}
