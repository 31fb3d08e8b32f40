/**
 * The state-format promise (README "Versions and state"): a stack that 1.0.0 made, run with
 * 1.0.0's own code, is taken over by this version's first `up` without replacing a key and
 * without changing anyone's access. Played as an admin upgrades: a clone at the landed 1.0.0
 * commit runs the demo, then `git checkout` of this version, its build, the access summary,
 * `npm run up`, and a preview that must find nothing to do.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { PROJECT_ROOT } from "../../cli/paths";

/** 1.0.0 as it landed (CHANGELOG "[1.0.0]"; later commits are "[Unreleased]"). */
const V1_0_0 = "2f84506a2da30389bff5c0a322cc8ba44db97f39";

let dir: string;
let clone: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-upgrade-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.mkdirSync(path.join(dir, "home"));
  fs.symlinkSync(ensureEngine().binary, path.join(dir, "bin", "pulumi"));
  clone = path.join(dir, "fetchml-keys");
  execFileSync("git", ["clone", "--quiet", PROJECT_ROOT, clone]);
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): { status: number | null; all: string } {
  const r = spawnSync(args[0], args.slice(1), {
    cwd: clone,
    encoding: "utf8",
    timeout: 600_000,
    env: {
      PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`,
      HOME: path.join(dir, "home"),
      PULUMI_HOME: path.join(dir, "home", ".pulumi"),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      LANG: "C.UTF-8",
    },
  });
  return { status: r.status, all: `${r.stdout}\n${r.stderr}` };
}

/** `git checkout` of a version, then what `npm ci` does without the registry: the same packages (hard-linked) and the build. */
function checkout(commit: string): void {
  const missing = spawnSync("git", ["cat-file", "-e", `${commit}^{commit}`], { cwd: clone }).status !== 0;
  // Fails, never skips: a shallow clone has no 1.0.0 to upgrade from.
  expect(missing, `${commit} is not in this clone's history (a shallow clone?): fetch it, the upgrade starts there`).toBe(false);
  execFileSync("git", ["checkout", "--quiet", commit], { cwd: clone });
  fs.rmSync(path.join(clone, "node_modules"), { recursive: true, force: true });
  execFileSync("cp", ["-al", path.join(PROJECT_ROOT, "node_modules"), path.join(clone, "node_modules")]);
  fs.utimesSync(path.join(clone, "package-lock.json"), new Date(0), new Date(0));
  const build = run(["sh", "-c", "npm run -s prepare"]);
  expect(build.status, build.all).toBe(0);
}

/** What the users hold and the server accepts: every file with a key or a hash, by content and inode. */
function access(): Map<string, { text: string; ino: number }> {
  const out = path.join(clone, "examples", "out");
  const files = ["fetchml-server.yaml", ...fs.readdirSync(path.join(out, "ml-configs")).map((f) => path.join("ml-configs", f))];
  return new Map(files.map((f) => [f, { text: fs.readFileSync(path.join(out, f), "utf8"), ino: fs.statSync(path.join(out, f)).ino }]));
}

describe("upgrading from 1.0.0", () => {
  it("takes over 1.0.0's stack: no key replaced, no hash or delivery file changed, then nothing to do", () => {
    const thisVersion = execFileSync("git", ["rev-parse", "HEAD"], { cwd: clone, encoding: "utf8" }).trim();
    checkout(V1_0_0);
    const made = run(["npm", "run", "-s", "up", "--", "--yes"]);
    expect(made.status, made.all).toBe(0);
    const before = access();
    expect(Object.keys(parse(before.get("fetchml-server.yaml")!.text).auth.api_keys).sort()).toEqual(["alice", "bob", "carol"]);
    expect([...before.keys()].filter((f) => f.endsWith(".toml")).length).toBe(3);

    checkout(thisVersion);
    const summary = run(["bin/fetchml-keys", "summary"]);
    expect(summary.status, summary.all).toBe(0);
    expect(summary.all).toContain("no access changes");
    const up = run(["bin/fetchml-keys", "up", "--yes"]);
    expect(up.status, up.all).toBe(0);
    expect(up.all).not.toMatch(/new key|replace/i);
    // Every key file and the server's hashes as 1.0.0 left them: the same bytes, not even rewritten.
    expect(access()).toEqual(before);
    const again = run(["bin/fetchml-keys", "preview", "--expect-no-changes"]);
    expect(again.status, again.all).toBe(0);
  }, 900_000);
});
