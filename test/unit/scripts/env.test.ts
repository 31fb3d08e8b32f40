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
  // $0 as when the entry point sources it: env.sh finds the checkout from it.
  const result = spawnSync("sh", ["-c", command, "scripts/fetchml-keys.sh"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: {
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

  it("is sourced by the entry point, the build and the tool runner before they look up anything on PATH", () => {
    const code = (script: string) =>
      fs
        .readFileSync(path.join(PROJECT_ROOT, script), "utf8")
        .split("\n")
        .filter((line) => line.trim() && !line.trim().startsWith("#"));
    for (const script of ["scripts/fetchml-keys.sh", "scripts/build.sh", "scripts/tool.sh"]) {
      expect(code(script).slice(0, 2), script).toEqual(["set -eu", 'case $0 in */*) . "${0%/*}/env.sh" ;; *) . ./env.sh ;; esac']);
    }
    // ... and env.sh finds the checkout with builtins only, before anything else.
    expect(code("scripts/env.sh").slice(0, 3)).toEqual([
      "case $0 in /*) root=${0%/*}/.. ;; */*) root=./${0%/*}/.. ;; *) root=.. ;; esac",
      'root=$(CDPATH="" cd "$root" && pwd)',
      'cd "$root"',
    ]);
    const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
    for (const [name, command] of Object.entries(scripts)) {
      for (const part of command.split("&&")) expect(part.trim(), `npm run ${name}`).toMatch(/^\/bin\/sh scripts\/[\w-]+\.sh( |$)/);
    }
  });
});

/**
 * A checkout (this one, linked entry by entry) in a directory another account can write, which
 * has planted `sh`, `dirname`, `node`, `npm`, `tsc` and `stat` in its node_modules/.bin.
 */
function plantedCheckout(withNodeModules: boolean): { checkout: string; shared: string; marker: string } {
  const shared = fs.mkdtempSync(path.join(tmp, "shared-"));
  fs.chmodSync(shared, 0o1777);
  const planted = path.join(shared, "node_modules", ".bin");
  fs.mkdirSync(planted, { recursive: true });
  const marker = path.join(shared, "planted-ran");
  for (const name of ["sh", "dirname", "node", "npm", "tsc", "stat"])
    fs.writeFileSync(path.join(planted, name), `#!/bin/sh\necho "$0" >> ${marker}\nexit 1\n`, { mode: 0o755 });
  const checkout = path.join(shared, "fetchml-keys");
  fs.mkdirSync(checkout);
  for (const entry of fs.readdirSync(PROJECT_ROOT)) {
    if (entry === ".git" || (entry === "node_modules" && !withNodeModules)) continue;
    fs.symlinkSync(path.join(PROJECT_ROOT, entry), path.join(checkout, entry));
  }
  return { checkout, shared, marker };
}

describe("npm run in a checkout under a directory others can write", () => {
  const env = (extra: string[] = []) => ({
    HOME: tmp,
    BITWARDENCLI_APPDATA_DIR: path.join(tmp, "bw"),
    PATH: [...extra, path.join(PROJECT_ROOT, "node_modules", ".bin"), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
  });

  // npm looks up its script shell on that PATH too (`sh`, unless .npmrc names one by its full path).
  it("runs none of the commands planted in a parent's node_modules/.bin (npm puts them first on PATH)", () => {
    const { checkout, marker } = plantedCheckout(true);
    const help = spawnSync("npm", ["run", "-s", "keys", "--", "help"], { cwd: checkout, encoding: "utf8", env: env() });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/user add/);
    const bw = spawnSync("npm", ["run", "-s", "bw", "--", "--version"], { cwd: checkout, encoding: "utf8", env: env() });
    expect(bw.status, bw.stderr).toBe(0);
    expect(bw.stdout).toMatch(/^\d{4}\.\d+\.\d+/);
    expect(fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : "").toBe("");
  });

  it("does not install (npm ci's install scripts would run with that PATH): it names the directory and says where to clone", () => {
    const { checkout, shared, marker } = plantedCheckout(false);
    // An npm of our own first on PATH, which says whether it ran.
    const fakeBin = fs.mkdtempSync(path.join(tmp, "bin-"));
    const npmRan = path.join(fakeBin, "npm-ran");
    fs.writeFileSync(path.join(fakeBin, "npm"), `#!/bin/sh\necho "$@" >> ${npmRan}\nexit 1\n`, { mode: 0o755 });
    const r = spawnSync("/bin/sh", ["scripts/fetchml-keys.sh", "help"], { cwd: checkout, encoding: "utf8", env: env([fakeBin]) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `fetchml-keys: not installing: ${shared}, a parent directory of this checkout, can be written by other accounts (drwxrwxrwt`,
    );
    expect(r.stderr).toContain("Clone fetchml-keys into a directory that only you (or root) can write");
    expect(fs.existsSync(npmRan)).toBe(false);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe("scripts/path.sh (through env.sh)", () => {
  const pathAfter = (entry: string, extra: Record<string, string> = {}) =>
    spawnSync("sh", ["-c", '. scripts/env.sh; printf %s "$PATH"', "scripts/fetchml-keys.sh"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      env: { HOME: process.env.HOME, PATH: `${entry}:/usr/bin:/bin`, ...extra },
    });

  it("leaves out a directory others can write, says so; keeps it only on GitHub's hosted runners (one account per VM)", () => {
    const open = path.join(tmp, "open");
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    fs.chmodSync(tmp, 0o755);
    const strict = pathAfter(open);
    expect(strict.stdout.split(":")).not.toContain(open);
    expect(strict.stderr).toContain(`fetchml-keys: left out of PATH: ${open} is writable by others (mode 777)`);
    expect(pathAfter(open, { GITHUB_ACTIONS: "true", RUNNER_ENVIRONMENT: "self-hosted" }).stdout.split(":")).not.toContain(open);
    expect(pathAfter(open, { GITHUB_ACTIONS: "true", RUNNER_ENVIRONMENT: "github-hosted" }).stdout.split(":")).toContain(open);
  });
});
