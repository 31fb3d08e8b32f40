/**
 * Refuses set-ups that would expose keys: the demo stack's public passphrase on a real
 * stack, or a delivery directory that others can read or that belongs to someone else.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { assertSafePath, UnsafePathError } from "../lib/safePath";
import type { Settings } from "./settings";

/** The dev stack's passphrase, public by design (README): never for real users. */
export const DEV_PASSPHRASE = "fetchml-keys-dev-demo";

export function exposureProblems(
  settings: Settings,
  stack: string,
  env: NodeJS.ProcessEnv = process.env,
  stat: (p: string) => fs.Stats | undefined = statOrUndefined,
  uid: number = process.getuid?.() ?? 0,
): string[] {
  const problems: string[] = [];
  if (stack !== "dev" && passphrase(env) === DEV_PASSPHRASE) {
    problems.push(`stack ${stack}: encrypted with the public demo passphrase; use a passphrase of your own (or another secrets provider)`);
  }
  if (settings.deliveryDir) {
    const st = stat(settings.deliveryDir);
    if (st && (st.mode & 0o077) !== 0) {
      problems.push(
        `deliveryDir: ${JSON.stringify(settings.deliveryDir)} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`,
      );
    }
    if (st && st.uid !== uid) {
      problems.push(
        `deliveryDir: ${JSON.stringify(settings.deliveryDir)} belongs to uid ${st.uid}, not to this user (uid ${uid}); keys are never written there`,
      );
    }
    // The directories on the way, by sshd's StrictModes rule: another account that can rename
    // in one of them could swap the delivery directory for its own while the files are written.
    if (problems.length === 0) {
      try {
        assertSafePath(path.resolve(settings.deliveryDir), `deliveryDir: ${JSON.stringify(settings.deliveryDir)}`, uid);
      } catch (e) {
        if (!(e instanceof UnsafePathError)) throw e;
        problems.push(e.message);
      }
    }
  }
  return problems;
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** The passphrase the engine will use: the variable, or the file named by the other variable. */
function passphrase(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return env.PULUMI_CONFIG_PASSPHRASE;
  if (!env.PULUMI_CONFIG_PASSPHRASE_FILE) return undefined;
  try {
    return fs.readFileSync(env.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8").trim();
  } catch {
    return undefined;
  }
}
