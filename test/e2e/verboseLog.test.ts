/**
 * Plain `pulumi` run as the README says, through bin/fetchml-keys-isolated, under a usual umask
 * (022), with Pulumi's own troubleshooting flag `-v=3`: the engine's glog writes its log file
 * into $TMPDIR, and that log holds the Node SDK's debug lines with every RandomPassword's value
 * in clear. Found by an attack as uid 65534: a 0644 file in a shared /tmp, left after the run.
 * Now the run's TMPDIR is a tmpfs of its own (scripts/isolated.sh): nothing of it is left, in
 * the shared directory or below it, but the empty mount point.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloneThisCheckout, installPackages } from "../support/clone";
import { readmeBlock, readmeShellEnv } from "../support/readme";

let dir: string;
let clone: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-verbose-log-"));
  clone = cloneThisCheckout(path.join(dir, "fetchml-keys"));
  installPackages(clone);
  expect(spawnSync("sh", ["-c", "npm run -s prepare"], { cwd: clone, stdio: "ignore" }).status).toBe(0);
}, 300_000);
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Every file below `root`, at any depth. */
function filesBelow(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).map((f) => path.join(root, f)).filter((f) => fs.lstatSync(f).isFile());
}

describe("plain pulumi with -v=3 through bin/fetchml-keys-isolated", () => {
  it("leaves nothing in a shared TMPDIR: no key, no file another account could read", () => {
    const shared = path.join(dir, "shared-tmp");
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const readme = fs.readFileSync(path.join(clone, "README.md"), "utf8");
    const script = [
      "set -eu",
      "umask 022",
      ...readmeBlock(readme, "offline plugins"),
      // Without its `npm ci` (the packages are in place).
      ...readmeBlock(readme, "fresh clone").filter((line) => !/^npm ci\b/.test(line)),
      "bin/fetchml-keys-isolated pulumi preview --stack dev -v=3",
    ].join("\n");
    const r = spawnSync("bash", ["-c", script], {
      cwd: clone,
      encoding: "utf8",
      timeout: 600_000,
      env: { ...readmeShellEnv(path.join(dir, "pulumi-home")), TMPDIR: shared },
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr, "the runs were isolated").not.toMatch(/not isolated|refused/);
    const configs = path.join(clone, "examples", "out", "ml-configs");
    const keys = fs
      .readdirSync(configs)
      .map((f) => /^api_key = "(.*)"$/m.exec(fs.readFileSync(path.join(configs, f), "utf8"))?.[1])
      .filter((k): k is string => !!k);
    expect(keys.length).toBe(3);
    const left = filesBelow(shared);
    const withKeys = left.filter((f) => keys.some((k) => fs.readFileSync(f, "utf8").includes(k)));
    expect({ left, withKeys }).toEqual({ left: [], withKeys: [] });
    // Nothing but the empty per-user mount point of the runs' tmpfs (scripts/isolated.sh).
    expect(fs.readdirSync(shared)).toEqual([`fetchml-keys-run-${process.getuid!()}`]);
  }, 600_000);
});
