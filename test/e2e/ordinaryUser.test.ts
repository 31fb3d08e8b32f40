/**
 * The README's `npm run up` on a fresh clone, run by an ordinary account (uid 4242, no name,
 * no groups) rather than root. Its run is isolated in a user namespace that maps only its own
 * uid, where root's directories read as the overflow uid: the local paths are checked with
 * their real owners, looked up before the run enters it (scripts/isolated.sh, cli/owners.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { PROJECT_ROOT } from "../../cli/paths";
import { expectUnchanged } from "../support/secrets";

const ADMIN = 4242;
const OTHER = 1234;
let dir: string;
let clone: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-ordinary-user-"));
  fs.chmodSync(dir, 0o755);
  clone = path.join(dir, "fetchml-keys");
  execFileSync("git", ["clone", "--quiet", PROJECT_ROOT, clone]);
  for (const sub of ["home", "bin"]) fs.mkdirSync(path.join(dir, sub));
  // The engine on its PATH (root's cache is not open to it), linked where it can be.
  const engine = path.join(dir, "bin", "pulumi");
  try {
    fs.linkSync(ensureEngine().binary, engine);
  } catch {
    fs.copyFileSync(ensureEngine().binary, engine);
  }
  fs.chmodSync(engine, 0o755);
  execFileSync("chown", ["-R", `${ADMIN}:${ADMIN}`, clone, path.join(dir, "home"), path.join(dir, "bin")]);
  // `npm ci`, without the registry: the same packages, hard-linked (still root's, read-only to
  // the account), and not older than the lock file, so the runner installs nothing.
  execFileSync("cp", ["-al", path.join(PROJECT_ROOT, "node_modules"), path.join(clone, "node_modules")]);
  fs.utimesSync(path.join(clone, "package-lock.json"), new Date(0), new Date(0));
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function asAdmin(args: string[]): { status: number | null; all: string } {
  const env = {
    PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`,
    HOME: path.join(dir, "home"),
    USER: "fkadmin",
    PULUMI_HOME: path.join(dir, "home", ".pulumi"),
    LANG: "C.UTF-8",
  };
  const r = spawnSync("setpriv", [`--reuid=${ADMIN}`, `--regid=${ADMIN}`, "--clear-groups", ...args], {
    cwd: clone,
    env,
    encoding: "utf8",
    timeout: 600_000,
  });
  return { status: r.status, all: `${r.stdout}\n${r.stderr}` };
}

describe("an ordinary account's run", () => {
  it("runs the demo with npm run up on a fresh clone, and still refuses a directory on the way that another account owns", () => {
    const up = asAdmin(["npm", "run", "up", "--", "--yes"]);
    expect(up.status, up.all).toBe(0);
    expect(up.all).not.toMatch(/shows as owned by uid 65534/);
    const server = path.join(clone, "examples", "out", "fetchml-server.yaml");
    expect(Object.keys(parse(fs.readFileSync(server, "utf8")).auth.api_keys).sort()).toEqual(["alice", "bob", "carol"]);
    const st = fs.statSync(server);
    expect([st.uid, st.mode & 0o777]).toEqual([ADMIN, 0o600]);

    // Another account takes over a directory on the way: refused, naming it and its real owner; nothing written.
    const before = fs.readFileSync(server, "utf8");
    fs.chownSync(path.join(clone, "examples"), OTHER, OTHER);
    const refused = asAdmin(["bin/fetchml-keys", "user", "rotate", "bob", "--yes"]);
    expect(refused.status).not.toBe(0);
    expect(refused.all).toMatch(
      new RegExp(`${path.join(clone, "examples")} belongs to uid ${OTHER}, not to root or this user \\(uid ${ADMIN}\\)`),
    );
    expectUnchanged(fs.readFileSync(server, "utf8"), before, "the auth config");
  }, 600_000);
});
