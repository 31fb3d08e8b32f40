/**
 * An auth config that other accounts can read (a `chmod 644`, a restore with `cp`, config
 * management templating it 0644) hands every local account every hash, each as good as its
 * key. attack45 F3: the summary said nothing, `preview --expect-no-changes` passed and `up` left
 * the file 0644 (3 of 3), because only a change of entries made a write. Now the plan names it,
 * the drift check fails, and `up` writes the same text again with others' bits taken off, and
 * runs no reload (FetchML reads the same). Here and on a server over SSH.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { PYTHON_AS_NOBODY } from "../support/nobody";
import { expectedHash } from "../support/oracle";
import { expectUnchanged } from "../support/secrets";
import { keyPairInMemory, TestSshd } from "../support/sshd";

const BASE = "# kept\nauth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n";
let e2e: E2EStack | undefined;
let sshd: TestSshd | undefined;

afterEach(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
  sshd = undefined;
});

/** How many of these hashes uid 65534 reads in the file. */
function hashesNobodyReads(file: string, hashes: string[]): number {
  const [cmd, ...args] = PYTHON_AS_NOBODY;
  const code = `import sys\ntry: sys.stdout.write(open(${JSON.stringify(file)}).read())\nexcept Exception: pass`;
  const out = spawnSync(cmd, [...args, "-c", code], { encoding: "utf8" }).stdout;
  return hashes.filter((h) => out.includes(h)).length;
}

describe.each(["here", "over SSH"] as const)("an auth config other accounts can read (%s)", (where) => {
  it("is named by the plan, fails the drift check, and up closes it without a reload; then nothing to do", async () => {
    e2e = await E2EStack.create({});
    const users = { alice: { role: "admin" }, bob: { role: "researcher" } };
    let file: string;
    const reloaded = path.join(e2e.dir, "reloaded");
    const reloadCommand = `echo x >> ${reloaded}`;
    const reloads = () => fs.readFileSync(reloaded, "utf8").trim().split("\n").length;
    if (where === "here") {
      fs.chmodSync(e2e.dir, 0o755); // root's, closed to writes: others may pass through to read
      file = path.join(e2e.dir, "api.yaml");
      fs.writeFileSync(file, BASE, { mode: 0o600 });
      e2e.setConfig({ authConfigPath: file, reloadCommand, users });
    } else {
      const deploy = keyPairInMemory("fetchml-keys-admin");
      sshd = await TestSshd.start(deploy.publicKey);
      file = path.join(sshd.dir, "api.yaml");
      fs.writeFileSync(file, BASE, { mode: 0o600 });
      e2e.setConfig({ servers: [sshd.server(e2e.encryptSecret(deploy.privateKey), { configPath: file, reloadCommand })], users });
    }
    await e2e.up();
    const label = where === "here" ? file : `box (${sshd!.user}@127.0.0.1:${sshd!.port}:${file})`;
    const hashes = Object.values((await e2e.outputs()).apiKeys as Record<string, string>).map(expectedHash);
    const text = fs.readFileSync(file, "utf8");
    expect([fs.statSync(file).mode & 0o777, reloads()]).toEqual([0o600, 1]);

    fs.chmodSync(file, 0o644); // as `cp` from a backup, or config management, leaves it
    if (where === "here") expect(hashesNobodyReads(file, hashes)).toBe(2);
    const lines = [...(await e2e.summary())];
    expect(lines.join("\n")).toMatch(
      /its mode 644 lets every account on its machine read it, and so every hash: up takes that away \(mode 640\)/,
    );
    expect(lines.join("\n")).toContain(label.split(" ")[0]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();

    await e2e.up();
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expectUnchanged(fs.readFileSync(file, "utf8"), text, "the server config");
    expect(reloads(), "no reload for the same text").toBe(1);
    expect(hashesNobodyReads(file, hashes)).toBe(0);
    expect(e2e.output()).toMatch(/closed to other accounts \(mode 644 -> 640\)/);
    expect([...(await e2e.summary())]).toEqual([]);
    await e2e.preview({ expectNoChanges: true });
  });
});
