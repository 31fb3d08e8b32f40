/**
 * The program with the real engine, from first up to destroy, run both ways an admin runs
 * it: through the runner (`npm run keys`) and as plain `pulumi up` (the program started by
 * the Node.js language host). Tests run in order on one stack per way: each builds on the
 * state the previous one left.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack, type Via } from "../support/e2eStack";
import { TestPostgres } from "../support/postgres";
import { MALLORY_HASH, SERVER_CONFIG, SERVICE_HASH, withoutManagedEntries } from "../support/fixtures";
import { expectContainsSecret, expectSameSecret, expectUnchanged } from "../support/secrets";

// Both ways on a file:// backend; the runner once more with state in PostgreSQL (team mode).
const WAYS: Array<[Via, "file" | "postgres"]> = [
  ["runner", "file"],
  ["plain", "file"],
  ["runner", "postgres"],
];

describe.each(WAYS)("the program with the real engine, via %s, state in %s", (via, backend) => {
  let pg: TestPostgres | undefined;
  let e2e: E2EStack;
  let serverFile: string;
  let deliveryDir: string;
  const users: Record<string, Record<string, unknown>> = {
    alice: { role: "admin" },
    bob: { role: "researcher" },
    carol: { role: "analyst" },
  };
  const config = () => ({
    authConfigPath: serverFile,
    deliveryDir,
    preserveEntries: ["svc-backup"],
    users,
  });
  const readServer = () => fs.readFileSync(serverFile, "utf8");
  const apiKeys = () => parse(readServer()).auth.api_keys;
  /** Every key and hash this stack ever produced, to search state, logs and argv for. */
  const seenSecrets = new Set<string>();

  async function recordSecrets(): Promise<Record<string, string>> {
    const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
    for (const key of Object.values(keys)) {
      seenSecrets.add(key);
      seenSecrets.add(expectedHash(key));
    }
    return keys;
  }

  beforeAll(async () => {
    if (backend === "postgres") pg = await TestPostgres.start();
    e2e = await E2EStack.create({}, { via, ...(pg ? { backend: { url: (t) => pg!.url(t), dump: (t) => pg!.dump(t) } } : {}) });
    serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    deliveryDir = path.join(e2e.dir, "deliver");
    fs.writeFileSync(serverFile, SERVER_CONFIG, { mode: 0o640 });
    e2e.setConfig(config());
  });
  afterAll(async () => {
    await e2e?.cleanup();
    await pg?.cleanup();
  });

  it("a first preview names the entry nobody declared, and the guard refuses it before anything changes", async () => {
    const before = readServer();
    const summary = await e2e.summary();
    expect([...summary]).toEqual([
      "+ alice (admin): new key",
      "+ bob (researcher): new key",
      "+ carol (analyst): new key",
      `- mallory: entry on ${serverFile} is not declared by this stack (admin): up removes it; list it in preserveEntries to keep it`,
    ]);
    expect(summary.refused).toMatch(
      /refusing to take access from more than 50% of a target's key holders: 1 of 1 on .* \(100%\): mallory\. Nothing was changed/,
    );
    await expect(e2e.up()).rejects.toThrow();
    expectUnchanged(readServer(), before, "the server config");
  });

  it("allowed, up writes exactly the users' hashes, keeps the file's mode and everything else as it was", async () => {
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    const result = await e2e.up();
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    expect(result.summary.result).toBe("succeeded");
    const keys = await recordSecrets();
    expect(Object.keys(keys).sort()).toEqual(["alice", "bob", "carol"]);
    const entries = apiKeys();
    expect(Object.keys(entries).sort()).toEqual(["alice", "bob", "carol", "svc-backup"]);
    for (const name of ["alice", "bob", "carol"]) expectSameSecret(entries[name].hash, expectedHash(keys[name]), `${name}'s entry`);
    expect(entries.alice).toMatchObject({ admin: true, roles: ["admin"] });
    expect(entries.carol.permissions).toEqual({ "jobs:read": true, "jobs:create": false, "jobs:update": false });
    expect(entries["svc-backup"].hash).toBe(SERVICE_HASH);
    expect(readServer()).not.toContain(MALLORY_HASH);
    expect(e2e.output()).toContain("removed mallory");
    expect(fs.statSync(serverFile).mode & 0o777).toBe(0o640);
    expect(withoutManagedEntries(readServer(), ["alice", "bob", "carol"])).toBe(withoutManagedEntries(SERVER_CONFIG, ["mallory"]));
    // Direct delivery: one 0600 ml config per user, holding that user's key.
    for (const name of ["alice", "bob", "carol"]) {
      const file = path.join(deliveryDir, `${name}.toml`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expectContainsSecret(fs.readFileSync(file, "utf8"), `api_key = "${keys[name]}"`, "the delivery file");
    }
    const audit = (await e2e.outputs()).users;
    expect(audit.bob).toMatchObject({ role: "researcher", status: "active", rotation: 0 });
    expect(audit.bob.issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("a second preview shows no changes and a second up changes nothing, mtime included", async () => {
    const mtime = fs.statSync(serverFile).mtimeMs;
    const issuedAt = (await e2e.outputs()).users.bob.issuedAt;
    const preview = await e2e.preview();
    expect(changesIn(preview.changeSummary)).toEqual({});
    const up = await e2e.up();
    expect(changesIn(up.summary.resourceChanges ?? {})).toEqual({});
    expect(fs.statSync(serverFile).mtimeMs).toBe(mtime);
    expect((await e2e.outputs()).users.bob.issuedAt).toBe(issuedAt);
  });

  it("raising bob's rotation replaces only bob's key: his hash changes, the others' do not", async () => {
    const before = apiKeys();
    const oldKeys = await recordSecrets();
    const oldAudit = (await e2e.outputs()).users;
    users.bob = { role: "researcher", rotation: 1 };
    e2e.setConfig(config());
    const preview = await e2e.preview();
    // bob's key is replaced; the auth file and the ml config files updated.
    expect(changesIn(preview.changeSummary)).toEqual({ replace: 1, update: 2 });
    expect([...(await e2e.summary())]).toEqual(["~ bob: key rotated (rotation 0 -> 1)"]);
    const up = await e2e.up();
    expect(changesIn(up.summary.resourceChanges ?? {})).toEqual({ replace: 1, update: 2 });
    const keys = await recordSecrets();
    expect(keys.bob).not.toBe(oldKeys.bob);
    expect(keys.alice).toBe(oldKeys.alice);
    const after = apiKeys();
    expectSameSecret(after.bob.hash, expectedHash(keys.bob), "bob's entry");
    expectUnchanged(after.alice, before.alice, "alice's entry");
    expectUnchanged(after.carol, before.carol, "carol's entry");
    const audit = (await e2e.outputs()).users;
    expect(audit.bob.fingerprint).not.toBe(oldAudit.bob.fingerprint);
    expect(audit.alice.fingerprint).toBe(oldAudit.alice.fingerprint);
    expect(audit.alice.issuedAt).toBe(oldAudit.alice.issuedAt);
    expectContainsSecret(fs.readFileSync(path.join(deliveryDir, "bob.toml"), "utf8"), keys.bob, "the delivery file");
  });

  it("suspending carol removes her hash but keeps her key; removing alice removes her entry and file", async () => {
    const oldKeys = await recordSecrets();
    users.carol = { role: "analyst", suspended: true };
    delete users.alice;
    e2e.setConfig(config());
    // Two of three key holders lose access: more than the default 50%, so the preview (and
    // so CI) already refuses...
    const before = readServer();
    const summary = await e2e.summary();
    expect([...summary]).toEqual(["- alice: access revoked", "- carol: suspended (key kept)"]);
    expect(summary.refused).toMatch(/2 of 3 on .* \(67%\): alice, carol\. Nothing was changed/);
    await expect(e2e.up()).rejects.toThrow();
    expectUnchanged(readServer(), before, "the server config");
    // ...until the admin allows it for this run.
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    await e2e.up();
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    const entries = apiKeys();
    expect(Object.keys(entries).sort()).toEqual(["bob", "svc-backup"]);
    const keys = await recordSecrets();
    expect(keys.carol).toBe(oldKeys.carol);
    expect(keys.alice === undefined, "alice has no key").toBe(true);
    expect((await e2e.outputs()).users.carol.status).toBe("suspended");
    expect(fs.existsSync(path.join(deliveryDir, "alice.toml"))).toBe(false);
    // Lifting the suspension restores the same key.
    users.carol = { role: "analyst" };
    e2e.setConfig(config());
    await e2e.up();
    expectSameSecret(apiKeys().carol.hash, expectedHash(oldKeys.carol), "carol's entry");
  });

  it("never shows a key or hash in the exported state, the engine's output or any process's argv", async () => {
    // Everything the backend holds (files, or the PostgreSQL table: state, history, backups), and a plain export.
    const state = e2e.backendFiles() + (await e2e.exportWithoutSecrets());
    const output = e2e.output();
    const argv = [...e2e.watch.commandLines].join("\n");
    expect(seenSecrets.size).toBeGreaterThanOrEqual(8);
    expect(e2e.watch.commandLines.size).toBeGreaterThan(10);
    expect(argv).toMatch(/fetchml-keys-step auth-write|steps\/main\.js auth-write/);
    // Booleans, not toContain: a failure message must not print the state or a key.
    const leaks = [...seenSecrets].filter((s) => state.includes(s) || output.includes(s) || argv.includes(s));
    expect(leaks.length).toBe(0);
    // The database password is in the backend URL (the environment): never in output or argv.
    if (pg) expect(output.includes(pg.password) || argv.includes(pg.password)).toBe(false);
    // The state does hold them, encrypted: the secrets are there, just not in clear text.
    expect(state.includes("ciphertext")).toBe(true);
  });

  it("destroy removes the managed entries and leaves the rest of the file intact", async () => {
    await e2e.destroy();
    expect(Object.keys(apiKeys())).toEqual(["svc-backup"]);
    expect(readServer()).toBe(withoutManagedEntries(SERVER_CONFIG, ["mallory"]));
    expect(fs.readdirSync(deliveryDir)).toEqual([]);
  });
});
