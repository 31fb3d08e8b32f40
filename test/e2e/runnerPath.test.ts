/**
 * What the runner itself starts by name (bin/fetchml-keys, scripts/isolated.sh,
 * scripts/ensure-engine.sh, cli/engine.ts: readlink, dirname, sh, env, bash, sed, sort, head,
 * pulumi...), before any preview and whatever the stack says. recheck44: uid 65534 planted those
 * names in a world-writable PATH directory and root's runner ran them (5 of 5); one `pulumi`
 * last on PATH was taken for the engine and ran with the passphrase (5 of 5). Now
 * scripts/path.sh leaves such a directory out of PATH (and says so) before anything is started.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { plantAsNobody, sharedBin } from "../support/nobody";
import { runRunner } from "../support/runner";

const BASE = "auth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n";
const NAMES = ["readlink", "dirname", "basename", "sh", "env", "bash", "sed", "sort", "head"];
let e2e: E2EStack | undefined;
let shared: string | undefined;

afterEach(async () => {
  await e2e?.cleanup();
  if (shared) fs.rmSync(shared, { recursive: true, force: true });
});

describe("what the runner starts by name", () => {
  it.each([true, false])("runs nothing another account planted on PATH (stack with a reload command: %s)", async (withReload) => {
    const { root, bin } = sharedBin("runner-path-");
    shared = root;
    const log = path.join(bin, "ran.log");
    // As uid 65534: a wrapper for each name that notes who ran it, then runs the real one.
    for (const n of NAMES) {
      const real = spawnSync("/bin/sh", ["-c", `command -v ${n}`], { encoding: "utf8" }).stdout.trim();
      const body = `#!/bin/sh\necho "${n} uid $(/usr/bin/id -u)" >> ${log}\n${real ? `exec ${real} "$@"` : "exit 127"}\n`;
      plantAsNobody(path.join(bin, n), body);
    }
    expect(fs.statSync(path.join(bin, "sh")).uid).toBe(65534);

    e2e = await E2EStack.create({}, { via: "runner" });
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    e2e.setConfig({
      authConfigPath: serverFile,
      ...(withReload ? { reloadCommand: "true" } : {}),
      users: { alice: { role: "admin" } },
    });
    const r = await runRunner(["preview", "--stack", e2e.name], { env: { ...e2e.env, PATH: `${bin}:${process.env.PATH}` } });
    const ran = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
    expect(ran, `planted programs run as uid ${process.getuid!()} (preview exit ${r.code})\n${r.stderr.slice(-600)}`).toBe("");
    expect(r.stderr).toContain(`fetchml-keys: left out of PATH: ${bin} is writable by others (mode 777)`);
  });
});

describe("a shared PATH directory last on PATH", () => {
  it("runs no `pulumi` another account put there (scripts/ensure-engine.sh: `command -v pulumi`)", async () => {
    const { root, bin } = sharedBin("runner-path-");
    shared = root;
    const log = path.join(bin, "ran.log");
    e2e = await E2EStack.create({}, { via: "runner" });
    const real = e2e.engineBinary;
    // uid 65534's pulumi: says it is new enough, notes who ran it and whether the passphrase came along, then runs the real one.
    const body =
      `#!/bin/sh\necho "pulumi $1 uid $(/usr/bin/id -u) passphrase:\${PULUMI_CONFIG_PASSPHRASE:+yes}" >> ${log}\n` +
      `[ "$1" = version ] && { echo v3.999.0; exit 0; }\nexec ${real} "$@"\n`;
    plantAsNobody(path.join(bin, "pulumi"), body);
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
    e2e.setConfig({ authConfigPath: serverFile, reloadCommand: "true", users: { alice: { role: "admin" } } });
    const pathWithout = (process.env.PATH ?? "")
      .split(":")
      .filter((d) => !fs.existsSync(path.join(d, "pulumi")))
      .join(":");
    const r = await runRunner(["preview", "--stack", e2e.name], { env: { ...e2e.env, PATH: `${pathWithout}:${bin}` } });
    const ran = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
    expect(ran, `uid 65534's pulumi ran (preview exit ${r.code})\n${r.stderr.slice(-600)}`).toBe("");
  });
});
