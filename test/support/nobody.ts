/**
 * Another local account for the attack tests: uid and gid 65534, no groups, the system's Python
 * (not a shim under node_modules, which that account could not run).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const NOBODY = 65534;

/** The command line that runs a command as that account: append the command. */
export const AS_NOBODY = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];

/** The command line that runs Python as that account: append its arguments. */
export const PYTHON_AS_NOBODY = [...AS_NOBODY, "/usr/bin/python3"];

/** Runs a Python snippet as that account and returns what it wrote to stderr ("" when all went well). */
export function pythonAsNobody(code: string): string {
  const [command, ...args] = PYTHON_AS_NOBODY;
  return spawnSync(command, [...args, "-c", code], { encoding: "utf8" }).stderr;
}

/**
 * A directory every account can write (mode 777), as a shared PATH entry would be, inside a
 * fresh temp directory only this process's account owns. Remove `root` when done.
 */
export function sharedBin(prefix: string): { root: string; bin: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(root, 0o755);
  const bin = path.join(root, "bin");
  fs.mkdirSync(bin);
  fs.chmodSync(bin, 0o777);
  return { root, bin };
}

/** Writes an executable `file` (mode 755) as that account, as an attacker on a shared PATH would. */
export function plantAsNobody(file: string, body: string): void {
  const plant = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), "/bin/sh", "-c", `cat > "$1" && chmod 755 "$1"`, "plant", file], {
    encoding: "utf8",
    input: body,
  });
  if (plant.status !== 0) throw new Error(`planting ${file} as uid ${NOBODY} failed: ${plant.stderr}`);
}
