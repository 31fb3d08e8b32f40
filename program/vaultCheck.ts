/**
 * The Bitwarden check, as a resource hook on every Bitwarden user's key: the engine runs it
 * before it creates or replaces such a key, whatever the reason (new user, counter, rotate-all,
 * age, `--replace`), and never in a preview or a run that changes no key. A locked or
 * logged-out vault then stops the run before any key changes. It runs once per run, however
 * many keys change (one short `bw status`).
 */
import * as pulumi from "@pulumi/pulumi";
import type { BitwardenSettings } from "../config/settings";
import { acquireSession, bwCommand, checkUnlocked, withBwLock } from "../steps/bitwarden/bw";

export function vaultCheckHook(settings: BitwardenSettings): pulumi.ResourceHook {
  let checked: Promise<void> | undefined;
  const check = () =>
    withBwLock(settings.cli, async () => {
      const bw = bwCommand(settings.cli);
      await checkUnlocked(bw, await acquireSession(bw));
    });
  return new pulumi.ResourceHook("bitwarden-vault-check", () => (checked ??= check()));
}
