/**
 * Run by scripts/isolated.sh before an ordinary user's run enters its user namespace: prints
 * the real owners of every directory on the way to each local path the stack files here name
 * (their auth configs, delivery directories and bw programs), the state backend's URL names (a
 * PostgreSQL socket directory, a CA file), the CA file bw trusts (NODE_EXTRA_CA_CERTS), bw's data file, TMPDIR and PATH's directories, for
 * lib/safePath.ts to check inside, where root's directories and other accounts' would all read
 * as the overflow uid. Prints
 * nothing it cannot read; what it leaves out is refused inside, with the reason.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { authTargets } from "../config/targets";
import { ownersOnTheWay } from "../lib/safePath";
import { settingsOf } from "../lib/stackFile";
import { bwDataDir, onPath, tmpDirOf } from "../steps/bitwarden/bw";
import { backendPaths } from "./backend";
import { PROJECT_ROOT } from "./paths";

/** The local paths a stack file names, resolved as the program resolves them (from the project directory). */
export function localPaths(stackText: string): string[] {
  const settings = settingsOf(stackText);
  const files = authTargets(settings).flatMap((t) => (t.spec.kind === "local" ? [t.spec.configPath] : []));
  if (settings.deliveryDir) files.push(settings.deliveryDir);
  const bw = settings.bitwarden?.cli && onPath(settings.bitwarden.cli, process.env.PATH);
  if (bw) files.push(bw);
  return files.map((f) => path.resolve(PROJECT_ROOT, f));
}

function main(): void {
  const dir = path.join(PROJECT_ROOT, "stacks");
  const files: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => /^Pulumi\..+\.yaml$/.test(n))) {
    try {
      files.push(...localPaths(fs.readFileSync(path.join(dir, name), "utf8")));
    } catch {
      // An invalid stack file: the run itself says what is wrong with it.
    }
  }
  files.push(...backendPaths(process.env.PULUMI_BACKEND_URL));
  if (process.env.NODE_EXTRA_CA_CERTS) files.push(path.resolve(process.env.NODE_EXTRA_CA_CERTS));
  files.push(path.join(bwDataDir(), "data.json"));
  // The TMPDIR the run's own is made in: bw serve's socket directory is checked inside (socketTmpProblem).
  files.push(path.join(tmpDirOf(process.env), "fetchml-keys-bw-probe"));
  // PATH's directories (program/loadSettings.ts checks them where programs are started by name).
  for (const dir of (process.env.PATH ?? "").split(":")) if (path.isAbsolute(dir)) files.push(path.join(dir, "fetchml-keys-probe"));
  process.stdout.write(ownersOnTheWay(files));
}

if (require.main === module) main();
