/** A clone of this checkout, as an admin gets one, for the tests that play the README's set-up. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../cli/paths";

/** `git clone` of this checkout's last commit into `clone` (no state, no build, no packages). */
export function cloneThisCheckout(clone: string): string {
  execFileSync("git", ["clone", "--quiet", PROJECT_ROOT, clone]);
  return clone;
}

/**
 * What `npm ci` leaves, without the registry: this checkout's packages, hard-linked (so Node
 * sees their real paths inside the clone), and a lock file no newer than them, so that the
 * launcher (scripts/fetchml-keys.sh) finds nothing to install.
 */
export function installPackages(clone: string): void {
  fs.rmSync(path.join(clone, "node_modules"), { recursive: true, force: true });
  execFileSync("cp", ["-al", path.join(PROJECT_ROOT, "node_modules"), path.join(clone, "node_modules")]);
  fs.utimesSync(path.join(clone, "package-lock.json"), new Date(0), new Date(0));
}
