/**
 * The README's commands on a fresh clone, run by an ordinary account (uid 4242, no name, no
 * groups) rather than root: the runner's `npm run up`, and plain `pulumi` through
 * `bin/fetchml-keys-isolated`. Either run is isolated in a user namespace that maps only its
 * own uid, where root's directories read as the overflow uid: the local paths are checked with
 * their real owners, looked up before the run enters it (scripts/isolated.sh, cli/owners.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { cloneThisCheckout, installPackages } from "../support/clone";
import { readmeBlock } from "../support/readme";
import { expectUnchanged } from "../support/secrets";

const ADMIN = 4242;
const OTHER = 1234;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-ordinary-user-"));
  fs.chmodSync(dir, 0o755);
  for (const sub of ["home", "bin"]) fs.mkdirSync(path.join(dir, sub));
  // The engine on its PATH (root's cache is not open to it): a copy, root's. Never a hard link
  // with a chown: that gave the account root's cached engine, which every root run starts.
  const engine = path.join(dir, "bin", "pulumi");
  fs.copyFileSync(ensureEngine().binary, engine);
  fs.chmodSync(engine, 0o755);
  execFileSync("chown", ["-R", `${ADMIN}:${ADMIN}`, path.join(dir, "home")]);
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh clone of this checkout's last commit, the account's own. */
function freshClone(name: string): string {
  const clone = path.join(dir, name);
  cloneThisCheckout(clone);
  execFileSync("chown", ["-R", `${ADMIN}:${ADMIN}`, clone]);
  // The packages stay root's: read-only to the account.
  installPackages(clone);
  return clone;
}

function asAdmin(clone: string, args: string[]): { status: number | null; all: string } {
  const env = {
    PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`,
    HOME: path.join(dir, "home"),
    USER: "fkadmin",
    PULUMI_HOME: path.join(dir, "home", `.pulumi-${path.basename(clone)}`),
    PULUMI_SKIP_UPDATE_CHECK: "true",
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

/** The demo's auth config, written for alice, bob and carol, and the account's own, 0600. */
function expectDemoWritten(clone: string): string {
  const server = path.join(clone, "examples", "out", "fetchml-server.yaml");
  expect(Object.keys(parse(fs.readFileSync(server, "utf8")).auth.api_keys).sort()).toEqual(["alice", "bob", "carol"]);
  const st = fs.statSync(server);
  expect([st.uid, st.mode & 0o777]).toEqual([ADMIN, 0o600]);
  return server;
}

describe("an ordinary account's run", () => {
  it("runs the demo with npm run up on a fresh clone, and still refuses a directory on the way that another account owns", () => {
    const clone = freshClone("runner");
    const up = asAdmin(clone, ["npm", "run", "up", "--", "--yes"]);
    expect(up.status, up.all).toBe(0);
    expect(up.all).not.toMatch(/shows as owned by uid 65534/);
    const server = expectDemoWritten(clone);

    // Another account takes over a directory on the way: refused, naming it and its real owner; nothing written.
    const before = fs.readFileSync(server, "utf8");
    fs.chownSync(path.join(clone, "examples"), OTHER, OTHER);
    const refused = asAdmin(clone, ["bin/fetchml-keys", "user", "rotate", "bob", "--yes"]);
    expect(refused.status).not.toBe(0);
    expect(refused.all).toMatch(
      new RegExp(`${path.join(clone, "examples")} belongs to uid ${OTHER}, not to root or this user \\(uid ${ADMIN}\\)`),
    );
    expectUnchanged(fs.readFileSync(server, "utf8"), before, "the auth config");
  }, 600_000);

  it("runs plain pulumi through bin/fetchml-keys-isolated exactly as the README says", () => {
    const clone = freshClone("plain");
    const readme = fs.readFileSync(path.join(clone, "README.md"), "utf8");
    const steps = readmeBlock(readme, "fresh clone");
    expect(steps[0]).toBe("npm ci");
    // The build `npm ci` runs (prepare), then the README's two blocks, as for root in freshClone.test.ts.
    const script = ["set -eu", "npm run -s prepare", ...readmeBlock(readme, "offline plugins"), ...steps.slice(1)].join("\n");
    const r = asAdmin(clone, ["bash", "-c", script]);
    expect(r.status, r.all).toBe(0);
    expect(r.all).not.toMatch(/shows as owned by uid 65534/);
    expect(r.all).toMatch(/\+ alice \(admin\): new key/);
    expectDemoWritten(clone);
  }, 600_000);
});
