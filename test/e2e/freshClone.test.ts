/**
 * Plain `pulumi` on a fresh clone, exactly as the README says (issue 27): a `git clone` of
 * this checkout's last commit (no `.pulumi-state/` state, no `examples/out/` files), its
 * node_modules hard-linked and its `prepare` (the build) run in place of `npm ci`, then the
 * README's two marked shell blocks (the offline plugins on PATH, as on this machine, then the
 * fresh-clone commands).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneThisCheckout, installPackages } from "../support/clone";
import { readmeBlock, readmeShellEnv } from "../support/readme";

let dir: string;
let clone: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-fresh-clone-"));
  clone = path.join(dir, "fetchml-keys");
  cloneThisCheckout(clone);
  installPackages(clone);
  // ... and its `prepare` script, the build plain `pulumi` runs (dist/, from the clone's own sources).
  execFileSync("sh", ["-c", "npm run -s prepare"], { cwd: clone, stdio: "ignore" });
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("plain pulumi on a fresh clone", () => {
  it("works exactly as the README says: stack init, preview and up of the dev stack", () => {
    expect(fs.existsSync(path.join(clone, ".pulumi-state", ".pulumi"))).toBe(false);
    const readme = fs.readFileSync(path.join(clone, "README.md"), "utf8");
    const plugins = readmeBlock(readme, "offline plugins");
    const steps = readmeBlock(readme, "fresh clone");
    expect(steps[0]).toBe("npm ci");
    const script = ["set -eu", ...plugins, ...steps.slice(1)].join("\n");
    const env = readmeShellEnv(path.join(dir, "pulumi-home"));
    const r = spawnSync("bash", ["-c", script], { cwd: clone, env, encoding: "utf8", timeout: 600_000 });
    const all = `${r.stdout}\n${r.stderr}`;
    expect(r.status, all).toBe(0);
    expect(all).not.toMatch(/unable to open state directory|no such file or directory/);
    expect(all).toMatch(/\+ alice \(admin\): new key/);
    const server = parse(fs.readFileSync(path.join(clone, "examples", "out", "fetchml-server.yaml"), "utf8"));
    expect(Object.keys(server.auth.api_keys).sort()).toEqual(["alice", "bob", "carol"]);
    expect(fs.statSync(path.join(clone, "examples", "out", "fetchml-server.yaml")).mode & 0o777).toBe(0o600);
  }, 600_000);
});
