/**
 * Another local account for the attack tests: uid and gid 65534, no groups, the system's Python
 * (not a shim under node_modules, which that account could not run).
 */
import { spawnSync } from "node:child_process";

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
