/**
 * The product runs only as built from the sources in the tree: `npm test` fails on a dist/
 * that is missing or older than any source, and every entry point refuses one (build/guard.ts),
 * so plain `pulumi` after an edit without `npm run build` never runs the old code silently.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STAMP_FILE, type Stamp, staleness, stampFor } from "../../../build/current";
import { DIST_DIR, PROJECT_ROOT } from "../../../cli/paths";

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "build-current-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const builtStamp = (): Stamp => JSON.parse(fs.readFileSync(path.join(DIST_DIR, STAMP_FILE), "utf8"));

/** A copy of the checkout with what a run needs: launchers, scripts, the sources the build compiled, dist/; node_modules linked. */
function copyCheckout(): string {
  const root = path.join(tmp, "checkout");
  fs.mkdirSync(root, { mode: 0o755 });
  const files = [...Object.keys(builtStamp().sources), "package.json", "Pulumi.yaml"];
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, file), path.join(root, file));
  }
  for (const dir of ["bin", "scripts", "dist"]) fs.cpSync(path.join(PROJECT_ROOT, dir), path.join(root, dir), { recursive: true });
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(root, "node_modules"));
  return root;
}

const step = (root: string) =>
  spawnSync("/bin/sh", ["-c", "exec ./bin/fetchml-keys-step nosuch"], { cwd: root, input: "{}", encoding: "utf8", timeout: 60_000 });

describe("the build is current", () => {
  it("dist/ was built from the sources in this tree (else: npm run build)", () => {
    expect(staleness()).toBeUndefined();
  });

  it("the stamp holds every compiled source and the compiler settings, hashed as an independent sha256 does", () => {
    const stamp = builtStamp();
    for (const file of ["index.ts", "steps/main.ts", "cli/main.ts", "plugins/random/main.ts", "tsconfig.json", "tsconfig.build.json"]) {
      expect(stamp.sources[file], file).toBe(sha256(path.join(PROJECT_ROOT, file)));
    }
  });

  it("names what is wrong: no build, not a stamp, a changed or removed source", () => {
    const dist = path.join(tmp, "dist");
    fs.mkdirSync(dist);
    expect(staleness(dist)).toMatch(/^no build in .*dist\/$/);
    fs.writeFileSync(path.join(dist, STAMP_FILE), "{");
    expect(staleness(dist)).toMatch(/build-stamp\.json is not a build stamp$/);
    const stamp = stampFor(["index.ts", "lib/json.ts"]);
    fs.writeFileSync(path.join(dist, STAMP_FILE), JSON.stringify(stamp));
    expect(staleness(dist)).toBeUndefined();
    stamp.sources["lib/json.ts"] = "0".repeat(64);
    stamp.sources["lib/gone.ts"] = "1".repeat(64);
    fs.writeFileSync(path.join(dist, STAMP_FILE), JSON.stringify(stamp));
    expect(staleness(dist)).toMatch(/is older than the source \(lib\/gone\.ts, lib\/json\.ts changed since it was built\)$/);
  });

  it("a step and the plain-pulumi program refuse a source edited after the build; a rebuild (umask 000) is current and writable only by its owner", () => {
    const root = copyCheckout();
    expect(step(root).stderr).toContain('unknown step "nosuch"'); // current: the step runs
    fs.appendFileSync(path.join(root, "lib", "json.ts"), "\n// edited, not built\n");
    const refused = step(root);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      "fetchml-keys: dist/ is older than the source (lib/json.ts changed since it was built): run `npm run build` (the product runs only as built from the sources in the tree)\n",
    );
    // Plain pulumi: the language host starts node with Pulumi.yaml's nodeargs, from the project root.
    const program = spawnSync(
      path.join(root, "node_modules", ".bin", "node"),
      ["--require", "./dist/build/guard.js", "-e", "console.log('ran')"],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    expect(program.stdout).toBe("");
    expect(program.stderr).toContain("run `npm run build`");

    const own = path.join(tmp, "own-tmp");
    fs.mkdirSync(own);
    const build = spawnSync("sh", ["-c", "umask 000 && exec sh scripts/build.sh"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, TMPDIR: own },
      timeout: 240_000,
    });
    expect(build.stderr).toContain("built dist/");
    expect(build.status).toBe(0);
    expect(step(root).stderr).toContain('unknown step "nosuch"');
    const writable = fs
      .readdirSync(path.join(root, "dist"), { recursive: true })
      .map((f) => path.join(root, "dist", String(f)))
      .filter((f) => fs.statSync(f).mode & 0o022);
    expect(writable).toEqual([]);
    expect(fs.statSync(path.join(root, "dist")).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(own)).toEqual([]); // no build artefact in TMPDIR
    expect(fs.readdirSync(root).filter((f) => f.startsWith("dist.new"))).toEqual([]);
  }, 300_000);
});
