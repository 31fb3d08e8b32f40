/**
 * Bitwarden delivery end to end: the real engine through the runner's code, the real `bw`
 * (the version delivery pins) against the project's Bitwarden test server. Tests run in
 * order on one stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { BW_DEFAULT, BwCli } from "../support/bitwarden/bwCli";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import type { BitwardenTestServer, SeededOrganization } from "../support/bitwarden/server";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { findProcesses } from "../support/processWatch";
import { runRunner } from "../support/runner";
import { expectDifferentSecret, expectNoSecret, expectSameSecret, expectUnchanged } from "../support/secrets";

let vault: TestVault;
let server: BitwardenTestServer;
let org: SeededOrganization;
let bw: BwCli;
let e2e: E2EStack;
let serverFile: string;
let users: Record<string, Record<string, unknown>>;
const seenSecrets = new Set<string>();

/** `bitwarden.repair` once a test raised it: every later config keeps it. */
let repair: { repair?: number } = {};
const config = () => ({
  authConfigPath: serverFile,
  preserveEntries: ["svc-backup"],
  bitwarden: { organizationId: org.id, collectionIds: [org.collections.FetchML], ...repair },
  users,
});
const serverEntries = () => parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
/** Distinct processes running bw (a pid can show two command lines: forked shell, then exec). */
const bwProcesses = (lines: Iterable<string>) => new Set([...lines].filter((l) => l.includes("bw.js")).map((l) => l.split(" ")[0])).size;
/** bw processes of this test still running (an unlocked `bw serve` must not outlive the run). */
const bwAlive = () => findProcesses((cmdline) => cmdline.includes("bw.js") && cmdline.includes("serve"));

async function outputs() {
  const out = await e2e.outputs();
  for (const key of Object.values(out.apiKeys as Record<string, string>)) {
    seenSecrets.add(key);
    seenSecrets.add(expectedHash(key));
  }
  return out as { apiKeys: Record<string, string>; vaultItems: Record<string, string> };
}

/** The vault writer's lines (names and ids only), to explain a failed assertion. */
function vaultLog(): string {
  return e2e
    .output()
    .split("\n")
    .filter((l) => /bitwarden/.test(l))
    .slice(-15)
    .join("\n");
}

async function getItem(id: string) {
  return JSON.parse(await bw.ok(["get", "item", id]));
}

beforeAll(async () => {
  vault = await startVault(["FetchML", "alice-only", "everyone"]);
  ({ server, org, bw } = vault);
  seenSecrets.add(bw.session);
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  // The admin's environment: the session and bw's data dir, never stack config or state.
  for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
  users = {
    alice: { role: "admin", delivery: "bitwarden", bitwarden: { collectionIds: [org.collections["alice-only"]] } },
    bob: { role: "researcher", delivery: "bitwarden" },
    carol: { role: "analyst", delivery: "bitwarden" },
    dave: { role: "analyst", delivery: "direct" },
  };
  e2e.setConfig(config());
}, 300_000);

afterAll(async () => {
  for (const name of ["BW_SESSION", "BITWARDENCLI_APPDATA_DIR", "NODE_EXTRA_CA_CERTS"]) e2e?.setProgramEnv(name, undefined);
  await e2e?.cleanup();
  await vault?.stop();
});

describe("Bitwarden delivery", () => {
  it("issues an item per Bitwarden user with the key, the hidden hash and the collection", async () => {
    await e2e.up();
    const { apiKeys, vaultItems } = await outputs();
    expect(Object.keys(vaultItems).sort()).toEqual(["alice", "bob", "carol"]);
    await bw.ok(["sync"]);
    for (const name of ["alice", "bob", "carol"]) {
      const item = await getItem(vaultItems[name]);
      expect(item.name).toBe(`FetchML API ${name}`);
      expect(item.organizationId).toBe(org.id);
      expect(item.login.username).toBe(name);
      expect(item.login.password === apiKeys[name]).toBe(true);
      expect(item.fields).toHaveLength(2);
      expect(item.fields[0].name).toBe("api_key_hash");
      expect(item.fields[0].type).toBe(1);
      expect(item.fields[0].value === expectedHash(apiKeys[name])).toBe(true);
      // Whose item it is: another stack with this prefix and collection leaves it alone.
      expect(item.fields[1]).toMatchObject({ name: "fetchml_keys_stack", value: `organization/fetchml-keys/${e2e.name}`, type: 0 });
      expect(item.collectionIds).toEqual([name === "alice" ? org.collections["alice-only"] : org.collections.FetchML]);
      expectSameSecret(serverEntries()[name].hash, expectedHash(apiKeys[name]), `${name}'s entry`);
    }
    expectSameSecret(serverEntries().dave.hash, expectedHash(apiKeys.dave), "dave's entry");
    expect(server.ciphers.size).toBe(3);
  });

  it("names a Bitwarden user's vault collections changing (old -> new), and warns about a collection several users' items share", async () => {
    const { FetchML, everyone } = org.collections;
    users.bob = { ...users.bob, bitwarden: { collectionIds: [everyone] } };
    e2e.setConfig(config());
    try {
      const lines = [...(await e2e.summary())];
      expect(lines).toContain(`~ bob: vault collections [${FetchML}] -> [${everyone}]: whoever can read [${everyone}] can read bob's key`);
      await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    } finally {
      users.bob = { role: "researcher", delivery: "bitwarden" };
      e2e.setConfig(config());
    }
    expect([...(await e2e.summary())]).toEqual([
      `! vault collection ${FetchML} holds the items of bob, carol: whoever can read it reads all their keys ` +
        "(give each user a collection of their own: users.<name>.bitwarden.collectionIds)",
    ]);
  });

  it("starts no bw process on a no-change up", async () => {
    const requests = server.requests.length;
    const up = await e2e.up();
    expect(changesIn(up.summary.resourceChanges ?? {})).toEqual({});
    expect(server.requests.length).toBe(requests);
    expect(bwProcesses(e2e.watch.lastRun)).toBe(0);
  });

  it("names a bitwarden.cli change (old -> new) in the summary, and the bw named there is what up runs with the session", async () => {
    // A pull request that changes one line of the stack file, to a script it adds (attack33 finding 3).
    const log = path.join(e2e.dir, "other-bw.log");
    const otherBw = path.join(e2e.dir, "other-bw");
    fs.writeFileSync(
      otherBw,
      `#!/bin/sh\n{ echo "bw $1"; [ -n "$BW_SESSION" ] && echo "with the session"; } >> ${log}\n` +
        `exec ${process.execPath} ${BW_DEFAULT} "$@"\n`,
      { mode: 0o700 },
    );
    const why = "the vault step runs it with the vault session (and BW_PASSWORD, BW_CLIENTSECRET when unattended)";
    e2e.setConfig({ ...config(), bitwarden: { ...config().bitwarden, cli: otherBw } });
    try {
      expect([...(await e2e.summary())]).toContain(`~ bitwarden.cli (the pinned @bitwarden/cli) -> ${JSON.stringify(otherBw)}: ${why}`);
      await e2e.up();
      // The line tells the truth: that one change is enough for the next up to run it with the session.
      // (The log holds command names and that fixed phrase only: never the session itself.)
      const calls = fs.readFileSync(log, "utf8").split("\n");
      expect(calls.includes("with the session")).toBe(true);
    } finally {
      e2e.setConfig(config());
    }
    expect([...(await e2e.summary())]).toContain(`~ bitwarden.cli ${JSON.stringify(otherBw)} -> (the pinned @bitwarden/cli): ${why}`);
    await e2e.up();
    expect([...(await e2e.summary())].filter((l) => l.includes("bitwarden.cli"))).toEqual([]);
  });

  it("rotating bob edits exactly his item, in place, with a constant number of bw processes", async () => {
    const before = await outputs();
    const revisions = new Map([...server.ciphers.values()].map((c) => [c.id, c.revisionDate]));
    users.bob = { ...users.bob, rotation: 1 };
    e2e.setConfig(config());
    // Its preview starts no bw: only an up opens the vault (at the vault check, before the key changes).
    await e2e.preview();
    expect(bwProcesses(e2e.watch.lastRun)).toBe(0);
    await e2e.up();
    const after = await outputs();
    expect(after.vaultItems).toEqual(before.vaultItems);
    expect(server.ciphers.size).toBe(3);
    for (const [id, revision] of revisions) {
      if (id === before.vaultItems.bob) expect(server.ciphers.get(id)!.revisionDate).not.toBe(revision);
      else expect(server.ciphers.get(id)!.revisionDate).toBe(revision);
    }
    await bw.ok(["sync"]);
    const bob = await getItem(after.vaultItems.bob);
    expectSameSecret(bob.login.password, after.apiKeys.bob, "bob's key");
    expect(bob.passwordHistory.map((h: { password: string }) => h.password).includes(before.apiKeys.bob)).toBe(true);
    expectSameSecret(serverEntries().bob.hash, expectedHash(after.apiKeys.bob), "bob's entry");
    // One `bw serve`: the vault check before the key changes starts it, and the vault step uses it.
    expect(bwProcesses(e2e.watch.lastRun)).toBe(1);
    expect(bwAlive()).toEqual([]);
  });

  it("plain pulumi rotates with one bw process too, and leaves none running", async () => {
    const before = await outputs();
    users.carol = { ...users.carol, rotation: 1 };
    e2e.setConfig(config());
    e2e.via = "plain";
    try {
      // plain `pulumi preview` opens no vault either.
      await e2e.preview();
      expect(bwProcesses(e2e.watch.lastRun)).toBe(0);
      await e2e.up();
    } finally {
      e2e.via = "runner";
    }
    const after = await outputs();
    expectDifferentSecret(after.apiKeys.carol, before.apiKeys.carol, "carol's key");
    await bw.ok(["sync"]);
    expectSameSecret((await getItem(after.vaultItems.carol)).login.password, after.apiKeys.carol, "carol's key in the vault");
    expectSameSecret(serverEntries().carol.hash, expectedHash(after.apiKeys.carol), "carol's entry");
    expect(bwProcesses(e2e.watch.lastRun)).toBe(1);
    expect(bwAlive()).toEqual([]);
  });

  it("revoking carol trashes her item and removes her hash", async () => {
    const { vaultItems } = await outputs();
    delete users.carol;
    e2e.setConfig(config());
    await e2e.up();
    expect(serverEntries().carol).toBeUndefined();
    expect(server.ciphers.get(vaultItems.carol)!.deletedDate).not.toBeNull();
    await bw.ok(["sync"]);
    const trash = JSON.parse(await bw.ok(["list", "items", "--trash"]));
    expect(trash.map((i: { id: string }) => i.id)).toEqual([vaultItems.carol]);
  });

  it("refresh reads the vault back: an item trashed or edited by hand is named, and raising bitwarden.repair makes it whole with the same keys", async () => {
    // A preview does not see it (no-change runs start no bw; README, "Bitwarden delivery").
    const refresh = () => runRunner(["refresh", "--expect-no-changes", "--stack", e2e.name], { env: e2e.env });
    const before = await outputs();
    const clean = await refresh();
    expect([clean.code, clean.stdout], clean.all).toEqual([0, expect.not.stringContaining("the vault differs")]);

    await bw.ok(["delete", "item", before.vaultItems.alice]);
    await bw.ok(["sync"]);
    const bob = await getItem(before.vaultItems.bob);
    await bw.editItem(bob.id, { ...bob, login: { ...bob.login, password: "changed-by-hand" } });
    const drift = await refresh();
    const fix = (name: string) =>
      `set bitwarden.repair to 1 in the stack file and run up: it writes the item again with ${name}'s key (\`user rotate ${name}\` gives a new key instead)`;
    for (const key of Object.values(before.apiKeys)) expectNoSecret(drift.all, key, "refresh's output");
    expect(drift.code, drift.all).toBe(1);
    expect(drift.stdout).toContain(
      "the vault differs from what the last run wrote there:\n" +
        `! alice: the vault item the last run wrote (${before.vaultItems.alice}) is gone or in the trash: restore it in the vault, or ${fix("alice")}\n` +
        `! bob: vault item ${before.vaultItems.bob}: it no longer holds bob's key as the last run wrote it (changed by hand): ${fix("bob")}`,
    );

    // The repair the lines name: reviewed first, then every item written again with the key it has.
    repair = { repair: 1 };
    e2e.setConfig(config());
    expect([...(await e2e.summary())]).toContain(
      "~ bitwarden.repair 0 -> 1: up reads every Bitwarden user's item back and writes again each one that is gone, trashed, " +
        "moved or changed by hand, with the key it has now (the vault is read during up, not in this preview)",
    );
    await e2e.up();
    const after = await outputs();
    expect(after.vaultItems.alice, vaultLog()).not.toBe(before.vaultItems.alice);
    expect(server.ciphers.get(after.vaultItems.alice)!.deletedDate ?? null).toBeNull();
    await bw.ok(["sync"]);
    const alice = await getItem(after.vaultItems.alice);
    expectSameSecret(alice.login.password, before.apiKeys.alice, "alice's key");
    expect(alice.collectionIds).toEqual([org.collections["alice-only"]]);
    for (const name of ["alice", "bob"]) expectSameSecret(after.apiKeys[name], before.apiKeys[name], `${name}'s key in state`);
    expectSameSecret((await getItem(after.vaultItems.bob)).login.password, before.apiKeys.bob, "bob's key in the vault");
    const again = await refresh();
    expect([again.code, again.stdout], again.all).toEqual([0, expect.not.stringContaining("the vault differs")]);
  });

  it("leaves an item of erin's name in a collection outside hers as it is: her key goes into a new item, and the up says so", async () => {
    // Made elsewhere (another stack of the same prefix, or a member) in a collection everyone
    // reads, with a URI, notes and a field of its own.
    const made = await bw.createItem({
      organizationId: org.id,
      collectionIds: [org.collections.everyone],
      type: 1,
      name: "FetchML API erin",
      notes: "made by create_bitwarden_fetchml_item.sh",
      login: { username: "erin", password: "hand-made-key", uris: [{ uri: "https://evil.example/erin", match: null }] },
      fields: [
        { name: "api_key_hash", value: expectedHash("hand-made-key"), type: 1 },
        { name: "owner", value: "mallory", type: 0 },
      ],
    });
    users.erin = { role: "researcher", delivery: "bitwarden" };
    e2e.setConfig(config());
    // The plan says where erin's key goes, and what happens to an item already named for erin.
    expect([...(await e2e.summary())]).toContain(
      `+ erin: key goes to the vault, collections [${org.collections.FetchML}] (an existing item of the user's name is used only if it is in these collections, and then cleared first)`,
    );
    const from = server.cipherStates.length;
    await e2e.up();
    const { apiKeys, vaultItems } = await outputs();
    expect(vaultItems.erin, vaultLog()).not.toBe(made.id);
    // The item made elsewhere was never written; erin's key is in a new item of her collection only.
    expect(server.cipherStates.slice(from).filter((s) => s.id === made.id)).toEqual([]);
    await bw.ok(["sync"]);
    const found = JSON.parse(await bw.ok(["list", "items", "--search", "FetchML API erin"])) as Array<{
      id: string;
      collectionIds: string[];
      login: { password: string };
    }>;
    expect(found.map((i) => i.id).sort()).toEqual([made.id, vaultItems.erin].sort());
    const theirs = found.find((i) => i.id === made.id)!;
    expectSameSecret(theirs.login.password, "hand-made-key", "the item made elsewhere");
    expect(theirs.collectionIds).toEqual([org.collections.everyone]);
    const ours = found.find((i) => i.id === vaultItems.erin)!;
    expectSameSecret(ours.login.password, apiKeys.erin, "erin's key");
    expect(ours.collectionIds).toEqual([org.collections.FetchML]);
    expect(e2e.output()).toContain(
      `an item named "FetchML API erin" (${made.id}, collections ${org.collections.everyone}) is outside erin's collections (${org.collections.FetchML}): it is left as it is, and erin's key goes into a new item`,
    );
  });

  it("a vault that goes down mid-run leaves the old hash on the server, and the next up converges", async () => {
    const before = await outputs();
    const oldBobHash = serverEntries().bob.hash;
    users.bob = { ...users.bob, rotation: 3 };
    delete users.erin; // a revocation in the same run must not wait on Bitwarden
    e2e.setConfig(config());
    const running = e2e.up().then(
      () => undefined,
      (e: Error) => e,
    );
    // Take the server down as soon as the vault step starts.
    const deadline = Date.now() + 120_000;
    while (
      Date.now() < deadline &&
      findProcesses((c) => /fetchml-keys-step vault-write|steps\/main\.js vault-write/.test(c)).length === 0
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.pause();
    const error = await running;
    expect(error).toBeInstanceOf(Error);
    // The vault check's serve stops with the failed run: no unlocked vault is left behind.
    expect(bwAlive()).toEqual([]);
    expect(e2e.output()).toMatch(/vault-write: bw serve (GET|POST|PUT|DELETE) \/\S*: .*(ECONNREFUSED|failed)/);
    expectSameSecret(serverEntries().bob.hash, oldBobHash, "bob's entry");
    expect(serverEntries().erin).toBeUndefined();

    await server.resume();
    await e2e.up();
    const after = await outputs();
    expectDifferentSecret(after.apiKeys.bob, before.apiKeys.bob, "bob's key");
    expectSameSecret(serverEntries().bob.hash, expectedHash(after.apiKeys.bob), "bob's entry");
    await bw.ok(["sync"]);
    expectSameSecret((await getItem(after.vaultItems.bob)).login.password, after.apiKeys.bob, "bob's key");
    const preview = await e2e.preview();
    expect(changesIn(preview.changeSummary)).toEqual({});
  });

  it("issues 25 users in one up, each item exactly once", async () => {
    for (let i = 0; i < 25; i++) users[`user${String(i).padStart(2, "0")}`] = { role: "analyst", delivery: "bitwarden" };
    e2e.setConfig(config());
    await e2e.up();
    const { apiKeys, vaultItems } = await outputs();
    const live = [...server.ciphers.values()].filter((c) => !c.deletedDate);
    for (let i = 0; i < 25; i++) {
      const name = `user${String(i).padStart(2, "0")}`;
      const named = live.filter((c) => server.decryptCipher(c.id).name === `FetchML API ${name}`);
      expect(named.map((c) => c.id)).toEqual([vaultItems[name]]);
      expect(server.decryptCipher(vaultItems[name]).password === apiKeys[name]).toBe(true);
    }
  });

  it("refuses to change anything when the vault is locked, and says what to run", async () => {
    const saved = e2e.env.BW_SESSION;
    e2e.setProgramEnv("BW_SESSION", "not-a-session");
    const before = fs.readFileSync(serverFile, "utf8");
    const keysBefore = (await outputs()).apiKeys;
    users.alice = { ...users.alice, rotation: 1 };
    e2e.setConfig(config());
    await expect(e2e.up()).rejects.toThrow();
    expect(e2e.output()).toContain('export BW_SESSION="$(npm run -s bw -- unlock --raw)"');
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    expectSameSecret((await outputs()).apiKeys.alice, keysBefore.alice, "alice's key");
    e2e.setProgramEnv("BW_SESSION", saved);
    await e2e.up();
    expectSameSecret(serverEntries().alice.hash, expectedHash((await outputs()).apiKeys.alice), "alice's entry");
  });

  it("checks the vault before a key changes for any reason: --replace with a locked vault changes nothing", async () => {
    const saved = e2e.env.BW_SESSION;
    e2e.setProgramEnv("BW_SESSION", "not-a-session");
    const before = fs.readFileSync(serverFile, "utf8");
    const key = (await outputs()).apiKeys.bob;
    const urn = `urn:pulumi:${e2e.name}::fetchml-keys::fetchml:index:UserKeys$random:index/randomPassword:RandomPassword::bob-key`;
    await expect(e2e.up({ replace: [urn] })).rejects.toThrow();
    expect(e2e.output()).toContain('before hook "bitwarden-vault-check" failed: the Bitwarden vault is not unlocked for this run');
    expectSameSecret((await outputs()).apiKeys.bob, key, "bob's key");
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    e2e.setProgramEnv("BW_SESSION", saved);
  });

  it("with onRevoke: delete, a revoked user's item is deleted for good", async () => {
    const { vaultItems } = await outputs();
    delete users.user00;
    e2e.setConfig({ ...config(), bitwarden: { ...config().bitwarden, onRevoke: "delete" } });
    await e2e.up();
    expect(server.ciphers.has(vaultItems.user00)).toBe(false);
    expect(serverEntries().user00).toBeUndefined();
    expect(server.ciphers.has(vaultItems.user01)).toBe(true);
  });

  it("logs in and unlocks by itself for unattended runs (BW_CLIENTID, BW_CLIENTSECRET, BW_PASSWORD, no session)", async () => {
    // A logged-out bw, as on a CI runner: only the server is configured.
    const fresh = new BwCli(server.url, server.caFile, BW_DEFAULT);
    await fresh.configure();
    const saved = { ...vault.env };
    const unattended = {
      BW_CLIENTID: vault.account.clientId,
      BW_CLIENTSECRET: vault.account.clientSecret,
      BW_PASSWORD: vault.account.password,
    };
    seenSecrets.add(unattended.BW_CLIENTSECRET);
    seenSecrets.add(unattended.BW_PASSWORD);
    try {
      e2e.setProgramEnv("BW_SESSION", undefined);
      e2e.setProgramEnv("BITWARDENCLI_APPDATA_DIR", fresh.dataDir);
      for (const [name, value] of Object.entries(unattended)) e2e.setProgramEnv(name, value);
      users.bob = { ...users.bob, rotation: 9 };
      e2e.setConfig(config());
      await e2e.up();
      const after = await outputs();
      await bw.ok(["sync"]);
      expectSameSecret((await getItem(after.vaultItems.bob)).login.password, after.apiKeys.bob, "bob's key");
    } finally {
      for (const name of Object.keys(unattended)) e2e.setProgramEnv(name, undefined);
      for (const [name, value] of Object.entries(saved)) e2e.setProgramEnv(name, value);
      fresh.cleanup();
    }
  });

  it("never shows a key, hash or session in state, engine output or any process's argv", async () => {
    const state = e2e.backendFiles() + (await e2e.exportWithoutSecrets());
    const output = e2e.output();
    const argv = [...e2e.watch.commandLines].join("\n");
    expect(argv).toMatch(/steps\/main\.js vault-write|fetchml-keys-step vault-write/);
    expect(seenSecrets.size).toBeGreaterThan(40);
    const leaks = [...seenSecrets].filter((s) => state.includes(s) || output.includes(s) || argv.includes(s));
    expect(leaks.length).toBe(0);
  });
});
