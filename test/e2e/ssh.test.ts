/**
 * Two FetchML servers reached over SSH (two real sshd on loopback), with the real engine
 * through the runner's code. Tests run in order on one stack.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { generateKeyPair, type KeyPair, privateSeedLine, TestSshd } from "../support/sshd";
import { expectSameSecret, expectUnchanged } from "../support/secrets";

// The fixture without its undeclared entry: a first up then has exactly one change per host.
const INITIAL = withoutManagedEntries(SERVER_CONFIG, ["mallory"]);
const USERS = ["alice", "bob", "carol"];

let keys: KeyPair;
let hosts: Record<"a" | "b", TestSshd>;
let e2e: E2EStack;
let privateKey: { secure: string };
let users: Record<string, Record<string, unknown>>;
const secrets = new Set<string>();

const configFile = (h: "a" | "b") => path.join(hosts[h].dir, "fetchml", "server.yaml");
const reloads = (h: "a" | "b") => {
  const log = path.join(hosts[h].dir, "fetchml", "reload.log");
  return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0;
};
const entries = (h: "a" | "b") => parse(fs.readFileSync(configFile(h), "utf8")).auth.api_keys;
const server = (h: "a" | "b", hostKey = hosts[h].hostKey) => ({
  name: `fetchml-${h}`,
  host: "127.0.0.1",
  port: hosts[h].port,
  user: hosts[h].user,
  privateKey,
  hostKey,
  configPath: configFile(h),
  reloadCommand: `echo reloaded >> ${path.join(hosts[h].dir, "fetchml", "reload.log")}`,
});
const config = (overrides: Record<string, unknown> = {}) => ({
  servers: [server("a"), server("b")],
  preserveEntries: ["svc-backup"],
  users,
  ...overrides,
});

async function apiKeys(): Promise<Record<string, string>> {
  const out = (await e2e.outputs()).apiKeys as Record<string, string>;
  for (const key of Object.values(out)) {
    secrets.add(key);
    secrets.add(expectedHash(key));
  }
  return out;
}

beforeAll(async () => {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-user-"));
  keys = generateKeyPair(keyDir, "fetchml-keys-admin");
  fs.rmSync(keyDir, { recursive: true, force: true });
  secrets.add(privateSeedLine(keys.privateKey));
  hosts = { a: await TestSshd.start(keys.publicKey), b: await TestSshd.start(keys.publicKey) };
  for (const h of ["a", "b"] as const) {
    fs.mkdirSync(path.dirname(configFile(h)), { recursive: true });
    fs.writeFileSync(configFile(h), INITIAL, { mode: 0o640 });
  }
  e2e = await E2EStack.create({});
  privateKey = e2e.encryptSecret(keys.privateKey);
  users = Object.fromEntries(USERS.map((name, i) => [name, { role: ["admin", "researcher", "analyst"][i] }]));
  e2e.setConfig(config());
});

afterAll(async () => {
  await e2e?.cleanup();
  await hosts?.a.stop();
  await hosts?.b.stop();
});

describe("FetchML servers over SSH", () => {
  it("writes the same entries to both servers, mode kept, the rest intact, and reloads each once", async () => {
    await e2e.up();
    const keys = await apiKeys();
    for (const h of ["a", "b"] as const) {
      for (const name of USERS) expectSameSecret(entries(h)[name].hash, expectedHash(keys[name]), `${name}'s entry`);
      expect(fs.statSync(configFile(h)).mode & 0o777).toBe(0o640); // its own mode, less others' bits
      expect(withoutManagedEntries(fs.readFileSync(configFile(h), "utf8"), USERS)).toBe(INITIAL);
      expect(fs.existsSync(`${configFile(h)}.bak`)).toBe(false);
      expect(reloads(h)).toBe(1);
    }
  });

  it("writes and reloads nothing on either server on a no-change up (it only reads them)", async () => {
    const mtimes = [fs.statSync(configFile("a")).mtimeMs, fs.statSync(configFile("b")).mtimeMs];
    const up = await e2e.up();
    expect(changesIn(up.summary.resourceChanges ?? {})).toEqual({});
    expect([fs.statSync(configFile("a")).mtimeMs, fs.statSync(configFile("b")).mtimeMs]).toEqual(mtimes);
    expect([reloads("a"), reloads("b")]).toEqual([1, 1]);
    // No step ran: no process of ours touched a server except the program's reads.
    expect([...e2e.watch.lastRun].filter((l) => /fetchml-keys-step|steps\/main\.js/.test(l))).toEqual([]);
  });

  it("a rotation changes both servers and reloads each exactly once more", async () => {
    const before = await apiKeys();
    users.bob = { ...users.bob, rotation: 1 };
    e2e.setConfig(config());
    await e2e.up();
    const after = await apiKeys();
    expect(after.bob).not.toBe(before.bob);
    for (const h of ["a", "b"] as const) {
      expectSameSecret(entries(h).bob.hash, expectedHash(after.bob), "bob's entry");
      expectSameSecret(entries(h).alice.hash, expectedHash(before.alice), "alice's entry");
      expect(reloads(h)).toBe(2);
    }
  });

  it("the same server reached by another name (localhost for 127.0.0.1) changes no entry and replaces nothing, and the plan says so", async () => {
    const before = [fs.readFileSync(configFile("a"), "utf8"), reloads("a")];
    e2e.setConfig(config({ servers: [{ ...server("a"), host: "localhost" }, server("b")] }));
    // The host key and file decide it is the same server; the reviewer still sees the address change (attack45 F6).
    expect([...(await e2e.summary())]).toEqual([
      expect.stringMatching(
        /^~ fetchml-a \(.*@localhost:\d+:.*\): was reached as fetchml-a \(.*@127\.0\.0\.1:\d+:.*\); the same host key and file/,
      ),
    ]);
    const preview = await e2e.preview();
    expect(preview.changeSummary.replace ?? 0).toBe(0);
    expect(preview.changeSummary.delete ?? 0).toBe(0);
    await e2e.up();
    expectUnchanged([fs.readFileSync(configFile("a"), "utf8"), reloads("a")], before, "server a's config and reloads");
    e2e.setConfig(config());
    await e2e.up();
  });

  it("a server that is down fails the run naming it; the other is still updated; the next up converges", async () => {
    await hosts.b.pause();
    const untouched = fs.readFileSync(configFile("b"), "utf8");
    users.carol = { ...users.carol, rotation: 1 };
    e2e.setConfig(config());
    const error = await e2e.up().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(e2e.output()).toMatch(/fetchml-b \(.*@127\.0\.0\.1:\d+:.*\): cannot connect/);
    const keys = await apiKeys();
    expectSameSecret(entries("a").carol.hash, expectedHash(keys.carol), "carol's entry");
    expect(reloads("a")).toBe(3);
    expectUnchanged(fs.readFileSync(configFile("b"), "utf8"), untouched, "the server config");

    await hosts.b.resume();
    await e2e.up();
    expectSameSecret(entries("b").carol.hash, expectedHash(keys.carol), "carol's entry");
    expect([reloads("a"), reloads("b")]).toEqual([3, 3]);
    const preview = await e2e.preview();
    expect(changesIn(preview.changeSummary)).toEqual({});
  });

  it("names a server's new owner and group (old -> new) in the summary, and the next write gives the file to them", async () => {
    // A pull request adding owner/group to a 0640 file (attack33 finding 3b): that group reads the hashes.
    const label = `fetchml-a (${hosts.a.user}@127.0.0.1:${hosts.a.port}:${configFile("a")})`;
    const why = "each write gives the file to root:users, its mode kept: whoever that lets read it reads the hashes";
    const before = fs.statSync(configFile("a"));
    const owned = () => config({ servers: [{ ...server("a"), owner: "root", group: "users" }, server("b")] });
    e2e.setConfig(owned());
    try {
      expect([...(await e2e.summary())]).toEqual([`~ ${label}: owner (kept as found) -> root:users: ${why}`]);
      await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
      await e2e.up();
      // It takes effect at the next write of the file (the line says "each write"): a rotation here.
      users.alice = { ...users.alice, rotation: 1 };
      e2e.setConfig(owned());
      expect([...(await e2e.summary())].filter((l) => l.includes("owner"))).toEqual([]);
      await e2e.up();
      await apiKeys();
      const after = fs.statSync(configFile("a"));
      expect([after.uid, after.gid, after.mode & 0o777]).toEqual([0, 100, 0o640]); // users: gid 100
      expect([...(await e2e.summary())]).toEqual([]);
    } finally {
      e2e.setConfig(config());
    }
    expect([...(await e2e.summary())]).toEqual([`~ ${label}: owner root:users -> (kept as found): writes no longer change it`]);
    await e2e.up();
    fs.chownSync(configFile("a"), before.uid, before.gid);
  });

  it("never puts a key, hash or the private key in state, output, or any process's argv on either side", async () => {
    const state = e2e.backendFiles() + (await e2e.exportWithoutSecrets());
    const output = e2e.output();
    const argv = [...e2e.watch.commandLines].join("\n");
    // The deploy key stays in memory: no ssh client, no key file, no agent.
    expect([...e2e.watch.commandLines].filter((l) => /(^|\/)ssh(-agent)? /.test(l))).toEqual([]);
    expect(argv).toMatch(/steps\/main\.js auth-write|fetchml-keys-step auth-write/);
    expect(secrets.size).toBeGreaterThan(8);
    const leaks = [...secrets].filter((s) => state.includes(s) || output.includes(s) || argv.includes(s));
    expect(leaks.length).toBe(0);
  });

  it("refuses a server whose host key does not match the pinned one, and leaves its file alone", async () => {
    const untouched = fs.readFileSync(configFile("b"), "utf8");
    users.alice = { ...users.alice, rotation: 1 };
    e2e.setConfig(config({ servers: [server("a"), server("b", hosts.a.hostKey)] }));
    await expect(e2e.up()).rejects.toThrow();
    expect(e2e.output()).toContain("fetchml-b");
    expect(e2e.output()).toContain("host key does not match the configured hostKey");
    expectUnchanged(fs.readFileSync(configFile("b"), "utf8"), untouched, "the server config");
  });

  it("destroy takes the managed entries off both servers", async () => {
    e2e.setConfig(config());
    await e2e.destroy();
    for (const h of ["a", "b"] as const) {
      expect(Object.keys(entries(h))).toEqual(["svc-backup"]);
    }
  });
});
