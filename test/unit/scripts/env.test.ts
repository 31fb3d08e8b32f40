/**
 * scripts/env.sh, sourced first by the entry point (scripts/fetchml-keys.sh) and the build
 * (scripts/build.sh): nothing they start takes code from a place another account can write.
 * Two routes, each played here with a real npm: Node's compile cache in a shared $TMPDIR (npm
 * turns it on for itself; a planted entry runs as whoever runs npm), and a parent directory's
 * node_modules/.bin, which `npm run` puts first on PATH.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "env-sh-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `command` in a shell as npm would start it: a parent's .bin planted first on PATH, TMPDIR shared (1777). */
function run(command: string): { marker: boolean; compileCache: boolean; stdout: string; status: number | null } {
  const base = fs.mkdtempSync(path.join(tmp, "run-"));
  const shared = path.join(base, "shared-tmp");
  fs.mkdirSync(shared, { mode: 0o1777 });
  fs.chmodSync(shared, 0o1777);
  const planted = path.join(base, "parent", "node_modules", ".bin");
  fs.mkdirSync(planted, { recursive: true });
  const marker = path.join(base, "planted-ran");
  for (const name of ["id", "npm", "node", "unshare"])
    fs.writeFileSync(path.join(planted, name), `#!/bin/sh\necho "$0" >> ${marker}\n`, { mode: 0o755 });
  const result = spawnSync("sh", ["-c", command], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: {
      root: PROJECT_ROOT,
      HOME: process.env.HOME,
      TMPDIR: shared,
      PATH: [planted, path.join(PROJECT_ROOT, "node_modules", ".bin"), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    },
  });
  return {
    marker: fs.existsSync(marker),
    compileCache: fs.existsSync(path.join(shared, "node-compile-cache")),
    stdout: result.stdout,
    status: result.status,
  };
}

describe("scripts/env.sh", () => {
  const npmAndId = "id -u >/dev/null; npm --version";

  it("without it, both routes are open (so the checks below can fail)", () => {
    const bare = run(npmAndId);
    expect(bare.marker).toBe(true);
    const direct = run("PATH=${PATH#*:}; npm --version");
    expect(direct.status).toBe(0);
    expect(direct.compileCache).toBe(true);
  });

  it("keeps Node's compile cache off and no other node_modules/.bin on PATH: npm runs, nothing planted does, nothing is cached in TMPDIR", () => {
    const sourced = run(`. scripts/env.sh; ${npmAndId}`);
    expect(sourced.status).toBe(0);
    expect(sourced.stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(sourced.marker).toBe(false);
    expect(sourced.compileCache).toBe(false);
  });

  it("is sourced by the entry point and the build before they run anything else", () => {
    for (const script of ["scripts/fetchml-keys.sh", "scripts/build.sh"]) {
      const lines = fs
        .readFileSync(path.join(PROJECT_ROOT, script), "utf8")
        .split("\n")
        .filter((line) => line.trim() && !line.trim().startsWith("#"));
      expect(lines.slice(0, 4), script).toEqual(["set -eu", 'root=$(cd "$(dirname "$0")/.." && pwd)', 'cd "$root"', ". scripts/env.sh"]);
    }
  });
});
