/** The stack-wide lines of the access plan (lib/accessPlan.ts): settings that change between runs. Pure. */
import type { SettingsOutput } from "../program/outputs";
import type { TargetInput } from "./accessPlanTargets";

export interface SettingsInput {
  targets: readonly TargetInput[];
  /** This run's stack-wide settings, and the last run's (absent when it recorded none). */
  settings?: SettingsOutput;
  previousSettings?: SettingsOutput;
}

/**
 * What changes stack-wide about where keys go and what users receive: entries that start or
 * stop being preserved (kept with their access, never checked), the vault organization, the
 * delivery directory, and the values in every user's ml config (the ml CLI sends the key to
 * apiUrl). Said only when the last run recorded its settings, so there is something to compare.
 */
export function settingsLines(input: SettingsInput): string[] {
  const now = input.settings;
  const before = input.previousSettings;
  if (!now || !before) return [];
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
  if (before.deliveryDir !== now.deliveryDir) {
    lines.push(
      `~ deliveryDir ${before.deliveryDir ?? "(none)"} -> ${now.deliveryDir ?? "(none)"}` +
        (now.deliveryDir ? `: direct users' ml configs (with their keys) are written there` : ": no more delivery files"),
    );
  }
  for (const field of ["apiUrl", "workerHost", "workerPort"] as const) {
    if (before.client[field] !== now.client[field]) {
      lines.push(
        `~ ml config ${field} ${JSON.stringify(before.client[field])} -> ${JSON.stringify(now.client[field])}: every user's ~/.ml/config.toml, ` +
          "where their ml CLI sends its key",
      );
    }
  }
  return lines;
}
