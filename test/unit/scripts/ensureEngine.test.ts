/**
 * scripts/ensure-engine.sh hands out the engine every run starts (with the passphrase, perhaps
 * as root). attack44: a test had chowned root's cached engine to uid 4242, and it was handed out
 * as it was; recheck44: a `pulumi` uid 65534 put in a shared directory on PATH was picked (and
 * run, for `pulumi version`) as the engine. Neither is taken now.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { AS_NOBODY, NOBODY } from "../../support/nobody";

const SCRIPT = path.join(PROJECT_ROOT, "scripts", "ensure-engine.sh");
const VERSION = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).pulumiVersion as string;
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ensure-engine-"));
  fs.chmodSync(dir, 0o755);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in engine that notes who ran it, at `file`. */
function fakeEngine(file: string, marker: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n/usr/bin/id -u >> ${marker}\necho v${VERSION}\n`, { mode: 0o755 });
}

const run = (env: Record<string, string>) =>
  spawnSync("/bin/bash", [SCRIPT], { encoding: "utf8", env: { HOME: dir, PATH: "/usr/bin:/bin", ...env } });

describe("scripts/ensure-engine.sh", () => {
  it("hands out a cached engine that is root's or this user's, and refuses one another account owns", () => {
    const cache = path.join(dir, "cache");
    const engine = path.join(cache, `pulumi-v${VERSION}`, "bin", "pulumi");
    const marker = path.join(dir, "ran");
    fakeEngine(engine, marker);
    const ok = run({ FETCHML_KEYS_CACHE: cache, FETCHML_KEYS_ENGINE: "build" });
    expect([ok.status, ok.stdout.trim()], ok.stderr).toEqual([0, path.dirname(engine)]);
    fs.chownSync(engine, NOBODY, NOBODY);
    const refused = run({ FETCHML_KEYS_CACHE: cache, FETCHML_KEYS_ENGINE: "build" });
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(`ensure-engine: refused ${engine}: ${engine} belongs to uid ${NOBODY}`);
  });

  it("never runs, nor hands out, a pulumi another account put in a shared directory on PATH", () => {
    const shared = path.join(dir, "shared");
    fs.mkdirSync(shared, { mode: 0o777 });
    fs.chmodSync(shared, 0o777);
    const marker = path.join(shared, "ran");
    const body = `#!/bin/sh\\n/usr/bin/id -u >> ${marker}\\necho v3.999.0\\n`;
    const plant = spawnSync(
      AS_NOBODY[0],
      [...AS_NOBODY.slice(1), "/bin/sh", "-c", `printf '${body}' > ${shared}/pulumi && chmod 755 ${shared}/pulumi`],
      {
        encoding: "utf8",
      },
    );
    expect(plant.status, plant.stderr).toBe(0);
    const cache = path.join(dir, "cache");
    const engine = path.join(cache, `pulumi-v${VERSION}`, "bin", "pulumi");
    fakeEngine(engine, path.join(dir, "cached-ran"));
    const r = run({ FETCHML_KEYS_CACHE: cache, PATH: `/usr/bin:/bin:${shared}` });
    expect([r.status, r.stdout.trim()], r.stderr).toEqual([0, path.dirname(engine)]);
    expect(fs.existsSync(marker), "uid 65534's pulumi ran").toBe(false);
    expect(r.stderr).toContain(`fetchml-keys: left out of PATH: ${shared} is writable by others (mode 777)`);
  });
});
