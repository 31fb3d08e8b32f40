/**
 * Revocations go first: a removed user's hash is off every target, and each target reloaded,
 * before any `bw` process starts, whether the vault is slow, failing, or has nothing but a
 * revocation to do. Each target's reload takes seconds here (a slow FetchML restart), so a
 * `bw` started alongside the revocations, rather than after them, is seen while they are still
 * running. The real engine through the runner's code, the real `bw` against the project's
 * Bitwarden test server, a local file and a real sshd. Tests run in order on one stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { E2EStack } from "../support/e2eStack";
import { expectedHash } from "../support/oracle";
import { findProcesses } from "../support/processWatch";
import { expectSameSecret } from "../support/secrets";
import { keyPairInMemory, TestSshd } from "../support/sshd";

const BASE = "auth:\n  enabled: true\n  api_keys: {}\n";
const RELOAD_SECONDS = 4;

let vault: TestVault;
let sshd: TestSshd;
let e2e: E2EStack;
let server: Record<string, unknown>;
let users: Record<string, Record<string, unknown>>;
const files = () => ({ local: path.join(e2e.dir, "api.yaml"), box: path.join(sshd.dir, "api.yaml") });
const reloadLog = (target: "local" | "box") => path.join(target === "local" ? e2e.dir : sshd.dir, "reloads");
const slowReload = (target: "local" | "box") => `sleep ${RELOAD_SECONDS}; echo reloaded >> ${reloadLog(target)}`;
const config = () => ({
  authConfigPath: files().local,
  reloadCommand: slowReload("local"),
  servers: [server],
  bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML] },
  users,
});
const entries = (target: "local" | "box") => parse(fs.readFileSync(files()[target], "utf8")).auth.api_keys ?? {};
const reloads = (target: "local" | "box") =>
  fs.existsSync(reloadLog(target)) ? fs.readFileSync(reloadLog(target), "utf8").split("\n").filter(Boolean).length : 0;

/** What every target holds, and how often it was reloaded, at the moment the run's first `bw` (or vault step) starts. */
interface FirstBw {
  command: string;
  names: Record<"local" | "box", string[]>;
  reloads: Record<"local" | "box", number>;
}

/** Runs an up, watching this test's processes every few milliseconds for the first `bw` or vault step. */
async function upWatchingBw(): Promise<{ first?: FirstBw; error?: Error }> {
  let first: FirstBw | undefined;
  let done = false;
  const running = e2e.up().then(
    () => undefined,
    (e: Error) => e,
  );
  void running.then(() => (done = true));
  while (!done && !first) {
    const pids = findProcesses((c) => /bw\.js|fetchml-keys-step vault-|steps\/main\.js vault-/.test(c));
    if (pids.length > 0) {
      first = {
        command: fs.readFileSync(`/proc/${pids[0]}/cmdline`, "utf8").replace(/\0/g, " ").replace(/^.*\//, ""),
        names: { local: Object.keys(entries("local")).sort(), box: Object.keys(entries("box")).sort() },
        reloads: { local: reloads("local"), box: reloads("box") },
      };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { first, error: await running };
}

beforeAll(async () => {
  vault = await startVault();
  const pair = keyPairInMemory("deploy");
  sshd = await TestSshd.start(pair.publicKey);
  e2e = await E2EStack.create({});
  fs.writeFileSync(files().local, BASE, { mode: 0o600 });
  fs.writeFileSync(files().box, BASE, { mode: 0o600 });
  server = sshd.server(e2e.encryptSecret(pair.privateKey), { configPath: files().box, reloadCommand: slowReload("box") });
  for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
  users = {
    alice: { role: "admin" },
    bob: { role: "researcher" },
    dave: { role: "analyst" },
    frank: { role: "analyst" },
    carol: { role: "researcher", delivery: "bitwarden" },
    erin: { role: "analyst", delivery: "bitwarden" },
  };
  e2e.setConfig(config());
  await e2e.up();
}, 300_000);

afterAll(async () => {
  for (const name of Object.keys(vault?.env ?? {})) e2e?.setProgramEnv(name, undefined);
  await e2e?.cleanup();
  await sshd?.stop();
  await vault?.stop();
});

describe("revocations before Bitwarden", () => {
  it("a removed user's hash is off every target, each reloaded, before the vault check's bw starts (a Bitwarden key rotates in the same run)", async () => {
    const before = { local: reloads("local"), box: reloads("box") };
    delete users.frank;
    users.carol = { ...users.carol, rotation: 1 };
    e2e.setConfig(config());
    const { first, error } = await upWatchingBw();
    expect(error).toBeUndefined();
    expect(first, "no bw process was seen").toBeDefined();
    expect(first!.names.local).not.toContain("frank");
    expect(first!.names.box).not.toContain("frank");
    expect(first!.reloads, `when ${first!.command} started`).toEqual({ local: before.local + 1, box: before.box + 1 });
    const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
    for (const target of ["local", "box"] as const) expectSameSecret(entries(target).carol.hash, expectedHash(keys.carol), "carol's entry");
  });

  it("when the vault has only revocations to do (its last users removed), it starts only once they are off every target", async () => {
    const before = { local: reloads("local"), box: reloads("box") };
    delete users.carol;
    delete users.erin;
    e2e.setConfig(config());
    const { first, error } = await upWatchingBw();
    expect(error).toBeUndefined();
    expect(first, "no vault step was seen").toBeDefined();
    for (const target of ["local", "box"] as const) expect(first!.names[target].filter((n) => n === "carol" || n === "erin")).toEqual([]);
    expect(first!.reloads, `when ${first!.command} started`).toEqual({ local: before.local + 1, box: before.box + 1 });
    expect(vault.server.ciphers.size).toBeGreaterThan(0);
    expect([...vault.server.ciphers.values()].every((c) => c.deletedDate)).toBe(true);
  });

  it("a locked vault stops the run, but only after the revocation is done on every target", async () => {
    users.erin = { role: "analyst", delivery: "bitwarden" };
    e2e.setConfig(config());
    await e2e.up();
    const saved = e2e.env.BW_SESSION;
    e2e.setProgramEnv("BW_SESSION", "not-a-session");
    try {
      const before = { local: reloads("local"), box: reloads("box") };
      delete users.dave;
      users.erin = { ...users.erin, rotation: 1 };
      e2e.setConfig(config());
      const { first, error } = await upWatchingBw();
      expect(error).toBeInstanceOf(Error);
      expect(e2e.output()).toContain('before hook "bitwarden-vault-check" failed');
      expect(first, "no bw process was seen").toBeDefined();
      expect(first!.reloads, `when ${first!.command} started`).toEqual({ local: before.local + 1, box: before.box + 1 });
      for (const target of ["local", "box"] as const) expect(Object.keys(entries(target)).sort()).toEqual(["alice", "bob", "erin"]);
    } finally {
      e2e.setProgramEnv("BW_SESSION", saved);
    }
  });
});
