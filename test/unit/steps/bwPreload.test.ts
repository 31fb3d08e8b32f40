/**
 * The pinned bw's preload (steps/bitwarden/bwPreload.ts): bw's own lock calls reach
 * proper-lockfile asking every 5 ms, for at least as long in all as bw's setting, the rest of
 * bw's options as bw gave them. Run as bw runs it: a node with the checkout's preloads, in that
 * order, before anything of bw's. (The time it saves is measured by `npm run bench`.)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DIST_DIR, MODULE_PATHS_PRELOAD, PROJECT_ROOT } from "../../../cli/paths";
import { bwCommand } from "../../../steps/bitwarden/bw";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "bw-preload-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The proper-lockfile the pinned bw loads. */
const BW_LOCKFILE = require.resolve("proper-lockfile", { paths: [path.dirname(require.resolve("@bitwarden/cli/build/bw.js"))] });

/** What bw's storage passes (lowdb-storage.service.ts in the pinned bw.js): its retries and nothing else. */
const BW_OWN = { retries: { retries: 50, minTimeout: 100, maxTimeout: 250, factor: 2 } };

describe("the pinned bw's preload", () => {
  it("is loaded by the pinned bw, after the checkout's package confinement and before bw.js", () => {
    const bw = bwCommand(undefined);
    expect(bw.slice(1)).toEqual([
      "--require",
      MODULE_PATHS_PRELOAD,
      "--require",
      path.join(DIST_DIR, "steps", "bitwarden", "bwPreload.js"),
      require.resolve("@bitwarden/cli/build/bw.js"),
    ]);
  });

  it("has bw's lock calls ask every 5 ms, as long in all as bw's own setting, and on the lock bw itself loads", () => {
    // A stand-in for proper-lockfile's lock, put in place first: it prints what it is asked.
    const recorder = path.join(dir, "recorder.js");
    fs.writeFileSync(
      recorder,
      `const lockfile = require(${JSON.stringify(BW_LOCKFILE)});
lockfile.lock = async (file, options) => { console.log(JSON.stringify({ file, options })); return async () => {}; };`,
    );
    const asBw = `const path = require("node:path");
const bwDir = path.dirname(require.resolve("@bitwarden/cli/build/bw.js"));
require(require.resolve("proper-lockfile", { paths: [bwDir] })).lock("data.json", ${JSON.stringify(BW_OWN)});`;
    const [node, ...preloads] = bwCommand(undefined).slice(0, -1);
    const run = spawnSync(node, [...preloads.slice(0, 2), "--require", recorder, ...preloads.slice(2), "-e", asBw], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    const asked = JSON.parse(run.stdout) as { file: string; options: { retries: Record<string, number> } };
    expect(Object.keys(asked.options)).toEqual(["retries"]);
    const { retries, minTimeout, maxTimeout } = asked.options.retries;
    expect(asked.file).toBe("data.json");
    expect(maxTimeout).toBeLessThanOrEqual(5);
    // At least as long in all as bw's own 50 retries up to 250 ms apart.
    expect(retries * minTimeout).toBeGreaterThanOrEqual(50 * 250);
  });
});
