/**
 * build/modulePaths.ts: a package a process of this checkout requires is found inside the
 * checkout only, never in a parent directory's node_modules (Node's default), where another
 * account can plant one when the checkout sits below a directory it can write. Played with the
 * real route: the vault step's `bw` (its node-fetch tries the optional `encoding`), in a copy
 * of the checkout (node_modules and dist/ hard-linked, so Node sees their real paths there)
 * below a 1777 directory holding a planted `node_modules/encoding`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_DIR, PROJECT_ROOT } from "../../../cli/paths";

let tmp: string;
let checkout: string;
let marker: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "module-paths-"));
  const shared = path.join(tmp, "shared");
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  marker = path.join(shared, "planted-ran");
  const planted = path.join(shared, "node_modules", "encoding");
  fs.mkdirSync(planted, { recursive: true });
  fs.writeFileSync(
    path.join(planted, "index.js"),
    `require("fs").appendFileSync(${JSON.stringify(marker)}, "loaded, session " + (process.env.BW_SESSION ? "seen" : "absent") + "\\n");\nmodule.exports = {};\n`,
  );
  checkout = path.join(shared, "fetchml-keys");
  fs.mkdirSync(checkout);
  for (const dir of ["node_modules", "dist"]) {
    const r = spawnSync("cp", [
      "-al",
      path.join(PROJECT_ROOT, dir === "dist" ? path.relative(PROJECT_ROOT, DIST_DIR) : dir),
      path.join(checkout, dir),
    ]);
    expect(r.status, String(r.stderr)).toBe(0);
  }
}, 60_000);
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs `bw status` with a session, as the vault step's check does; what the planted module saw, and whether bw ran. */
function bwStatus(command: string[]): string {
  fs.rmSync(marker, { force: true });
  const data = fs.mkdtempSync(path.join(tmp, "bw-data-"));
  const r = spawnSync(command[0], [...command.slice(1), "status"], {
    cwd: checkout,
    env: { PATH: "/usr/bin:/bin", HOME: tmp, BITWARDENCLI_APPDATA_DIR: data, BW_NOINTERACTION: "true", BW_SESSION: "not-a-real-session" },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stdout, r.stderr).toMatch(/"status":"unauthenticated"/);
  return fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : "";
}

describe("packages are found inside the checkout only", () => {
  it("without it, bw loads the planted module, session in reach (so the check below can fail)", () => {
    expect(bwStatus([process.execPath, path.join(checkout, "node_modules", "@bitwarden", "cli", "build", "bw.js")])).toBe(
      "loaded, session seen\n",
    );
  }, 60_000);

  it("the bw the vault step starts (bwCommand) never loads it", () => {
    // The copy's own bw.ts, so that its command names the copy's files.
    const { bwCommand } = require(
      path.join(checkout, "dist", "steps", "bitwarden", "bw.js"),
    ) as typeof import("../../../steps/bitwarden/bw");
    const command = bwCommand(undefined);
    expect(command.slice(1, 3)).toEqual(["--require", path.join(checkout, "dist", "build", "modulePaths.js")]);
    expect(bwStatus(command)).toBe("");
  }, 60_000);

  // A second working copy may link its node_modules to another checkout's (packages are then
  // named by that real path): they are still found, and nothing above either.
  it("works with node_modules linked to another checkout's, and still loads nothing planted", () => {
    const linked = path.join(path.dirname(checkout), "linked-copy");
    fs.mkdirSync(linked);
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(linked, "node_modules"));
    expect(spawnSync("cp", ["-al", path.join(checkout, "dist"), path.join(linked, "dist")]).status).toBe(0);
    const { bwCommand } = require(path.join(linked, "dist", "steps", "bitwarden", "bw.js")) as typeof import("../../../steps/bitwarden/bw");
    expect(bwStatus(bwCommand(undefined))).toBe("");
  }, 60_000);

  it("nor does npm run bw, nor any entry point (each loads it first, through the build guard)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
    expect(pkg.scripts.bw).toContain("--require ./dist/build/modulePaths.js node_modules/@bitwarden/cli/build/bw.js");
    const guard = fs.readFileSync(path.join(PROJECT_ROOT, "build", "guard.ts"), "utf8");
    expect(guard.split("\n").find((line) => line.startsWith("import"))).toBe('import "./modulePaths";');
  });
});
