/**
 * The preview tells the whole truth: the cases seen on real runs where the preview, the
 * summary or the guard said one thing and `up` did another. Each test puts a target in that
 * state, checks what the preview says, then what `up` does. Real engine, real files.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { expectSameSecret, expectUnchanged } from "../support/secrets";

const BASE = `# FetchML API server (e2e fixture)
server:
  address: ":9101"

auth:
  enabled: true
  api_keys:
    svc-backup:
      hash: "${"e".repeat(64)}"
      admin: false

logging:
  level: info
`;

let e2e: E2EStack;
let dir: string;
let serverFile: string;
let users: Record<string, Record<string, unknown>>;
let extra: Record<string, unknown> = {};
const config = () => ({
  authConfigPath: serverFile,
  preserveEntries: ["svc-backup"],
  reloadCommand: `echo r >> ${path.join(dir, "reloads")}`,
  users,
  ...extra,
});
const entries = (file = serverFile) => parse(fs.readFileSync(file, "utf8")).auth.api_keys ?? {};
const reloads = () =>
  fs.existsSync(path.join(dir, "reloads")) ? fs.readFileSync(path.join(dir, "reloads"), "utf8").split("\n").filter(Boolean).length : 0;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const summary = async () => [...(await e2e.summary())];

async function fresh(initial = BASE): Promise<void> {
  await e2e?.cleanup();
  e2e = await E2EStack.create({});
  dir = e2e.dir;
  serverFile = path.join(dir, "api.yaml");
  fs.writeFileSync(serverFile, initial, { mode: 0o600 });
  users = { ada: { role: "admin" }, ben: { role: "researcher" }, zed: { role: "analyst" } };
  extra = {};
  e2e.setConfig(config());
  await e2e.up();
}

beforeAll(() => fresh());
afterEach(() => e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined));
afterAll(async () => {
  await e2e?.cleanup();
});

describe("the preview tells the whole truth", () => {
  it("a typo in authConfigPath is refused as a file that does not exist, naming where the entries are, and the guard's override is never the hint", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    const typo = path.join(dir, "apii.yaml");
    extra = { authConfigPath: typo };
    e2e.setConfig(config());
    const lines = await e2e.summary();
    expect([...lines]).toEqual([]);
    expect(lines.refused).toContain(
      `authConfigPath: ${typo} does not exist, and at the last run this stack's entries (ada, ben, zed) were in ${serverFile}.`,
    );
    expect(lines.refused).not.toMatch(/allow-mass-revocation|createIfMissing/);
    await expect(e2e.up()).rejects.toThrow();
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    expect(fs.existsSync(typo)).toBe(false);
    extra = {};
    e2e.setConfig(config());
  });

  it("the same file spelled another way (a relative path, a symbolic link) changes nothing", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    fs.symlinkSync(serverFile, path.join(dir, "link.yaml"));
    for (const spelling of [path.relative(process.cwd(), serverFile), path.join(dir, "link.yaml"), `${dir}/./api.yaml`]) {
      extra = { authConfigPath: spelling };
      e2e.setConfig(config());
      expect(await summary(), spelling).toEqual([]);
      const preview = await e2e.preview();
      expect(changesIn(preview.changeSummary), spelling).toEqual({});
      await e2e.up();
      expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    }
    extra = {};
    e2e.setConfig(config());
    await e2e.up();
    expect(fs.lstatSync(path.join(dir, "link.yaml")).isSymbolicLink()).toBe(true);
  });

  it("--replace of the write step leaves every entry in place", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    const urn = `urn:pulumi:${e2e.name}::fetchml-keys::fetchml:index:AuthConfig$command:local:Command::auth-config-write`;
    await e2e.up({ replace: [urn] });
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });

  it("hand edits (an entry deleted, one made admin, one added) show in the preview and fail --expect-no-changes; up repairs them, then all is quiet", async () => {
    const text = fs.readFileSync(serverFile, "utf8");
    const edited = text
      .replace(/ {4}ben:\n( {6}.*\n)+/, "")
      .replace(/( {4}zed:\n {6}hash: "[0-9a-f]+"\n {6}admin: )false/, "$1true")
      .replace("logging:", `    mallory:\n      hash: "${"d".repeat(64)}"\n      admin: true\n\nlogging:`);
    fs.writeFileSync(serverFile, edited);
    expect(await summary()).toEqual([
      `- mallory: entry on ${serverFile} is not declared by this stack (admin): up removes it; list it in preserveEntries to keep it`,
      `+ ben: entry missing on ${serverFile}: up restores it`,
      `~ zed: entry on ${serverFile} differs from stack config: up restores it`,
    ]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    const keys = (await e2e.outputs()).apiKeys;
    expect(Object.keys(entries()).sort()).toEqual(["ada", "ben", "svc-backup", "zed"]);
    expect(entries().zed.admin).toBe(false);
    expectSameSecret(entries().zed.hash, expectedHash(keys.zed), "zed's entry");
    expectSameSecret(entries().ben.hash, expectedHash(keys.ben), "ben's entry");
    await e2e.preview({ expectNoChanges: true });
    expect(await summary()).toEqual([]);
  });

  it("a hash changed by hand is named, and restored", async () => {
    fs.writeFileSync(serverFile, fs.readFileSync(serverFile, "utf8").replace(/(ada:\n {6}hash: ")[0-9a-f]{64}/, `$1${"f".repeat(64)}`));
    expect(await summary()).toEqual([
      `~ ada: entry on ${serverFile} was changed by hand (its hash is not this user's key): up restores it`,
    ]);
    await e2e.up();
    expectSameSecret(entries().ada.hash, expectedHash((await e2e.outputs()).apiKeys.ada), "ada's entry");
    await e2e.preview({ expectNoChanges: true });
  });

  it("a reload that failed is retried by the next up, and the preview says it is owed", async () => {
    extra = { reloadCommand: "exit 7" };
    users.ben = { role: "researcher", rotation: 1 };
    e2e.setConfig(config());
    await expect(e2e.up()).rejects.toThrow();
    expectSameSecret(entries().ben.hash, expectedHash((await e2e.outputs()).apiKeys.ben), "ben's entry");
    extra = {};
    e2e.setConfig(config());
    // The failed up recorded its reload command: the plan says the owed reload runs another one.
    expect(await summary()).toEqual([
      `~ ${serverFile}: reload command "exit 7" -> ${JSON.stringify(config().reloadCommand)}: runs as you, on this machine after each change of the file`,
      `! ${serverFile}: a reload is still owed (the last one failed or was cut short): up runs it`,
    ]);
    const before = reloads();
    await e2e.up();
    expect(reloads()).toBe(before + 1);
    await e2e.preview({ expectNoChanges: true });
  });

  it("keeps the file's mode (less others' bits) and its group", async () => {
    fs.chmodSync(serverFile, 0o644);
    fs.chownSync(serverFile, 0, 65534);
    users.zed = { role: "analyst", rotation: 1 };
    e2e.setConfig(config());
    await e2e.up();
    const st = fs.statSync(serverFile);
    expect([st.mode & 0o777, st.gid]).toEqual([0o640, 65534]);
  });

  it("users and entries named like JavaScript object internals work: constructor, valueOf, __proto__", async () => {
    fs.writeFileSync(
      serverFile,
      fs.readFileSync(serverFile, "utf8").replace("logging:", `    valueOf:\n      hash: "${"1".repeat(64)}"\n\nlogging:`),
    );
    const C: string = "constructor";
    users[C] = { role: "researcher" };
    e2e.setConfig(config());
    expect(await summary()).toEqual([
      "+ constructor (researcher): new key",
      `- valueOf: entry on ${serverFile} is not declared by this stack: up removes it; list it in preserveEntries to keep it`,
    ]);
    await e2e.up();
    expect(Object.keys(entries()).sort()).toEqual(["ada", "ben", "constructor", "svc-backup", "zed"]);
    users[C] = { role: "researcher", suspended: true };
    e2e.setConfig(config());
    expect(await summary()).toEqual(["- constructor: suspended (key kept)"]);
    await e2e.up();
    expect(Object.keys(entries())).not.toContain("constructor");
    delete users[C];
    e2e.setConfig(config());
    await e2e.up();
  });

  it("a deleted record hides nothing: the preview says it is missing and shows a later hand deletion, --expect-no-changes fails, up rewrites both", async () => {
    const recordFile = path.join(dir, ".api.yaml.fetchml-keys");
    const before = JSON.parse(fs.readFileSync(recordFile, "utf8"));
    fs.rmSync(recordFile);
    fs.writeFileSync(serverFile, fs.readFileSync(serverFile, "utf8").replace(/ {4}ada:\n( {6}.*\n)+/, ""));
    expect(await summary()).toEqual([
      `! ${serverFile}: its record (the .<file>.fetchml-keys beside it) is missing: up rewrites it`,
      `+ ada: entry missing on ${serverFile}: up restores it`,
    ]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    expectSameSecret(entries().ada.hash, sha256((await e2e.outputs()).apiKeys.ada), "ada's entry");
    const after = JSON.parse(fs.readFileSync(recordFile, "utf8"));
    expect(after).toMatchObject({ stack: before.stack, writer: before.writer, managed: before.managed, reloadPending: false });
    expect(after.generation).toBeGreaterThan(before.generation);
    await e2e.preview({ expectNoChanges: true });
    expect(await summary()).toEqual([]);
    // Only the record gone, the file untouched: still drift, still repaired.
    fs.rmSync(recordFile);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    expect(fs.existsSync(recordFile)).toBe(true);
    await e2e.preview({ expectNoChanges: true });
  });

  it("a record cut off, or at the largest generation, is repaired by up and never written out of range", async () => {
    const recordFile = path.join(dir, ".api.yaml.fetchml-keys");
    const whole = fs.readFileSync(recordFile, "utf8");
    fs.writeFileSync(recordFile, whole.slice(0, 30));
    expect(await summary()).toEqual([
      `! ${serverFile}: its record (the .<file>.fetchml-keys beside it) is unusable (not valid JSON): up rewrites it`,
    ]);
    await expect(e2e.preview({ expectNoChanges: true })).rejects.toThrow();
    await e2e.up();
    const rewritten = JSON.parse(fs.readFileSync(recordFile, "utf8")); // names and numbers only
    expect(rewritten).toMatchObject({ ...JSON.parse(whole), generation: expect.any(Number) });
    await e2e.preview({ expectNoChanges: true });

    // The largest generation a record holds, then a hand edit: the repair must not count past it.
    const top = { ...JSON.parse(fs.readFileSync(recordFile, "utf8")), generation: 2 ** 53 - 1 };
    fs.writeFileSync(recordFile, JSON.stringify(top, null, 2) + "\n");
    fs.writeFileSync(serverFile, fs.readFileSync(serverFile, "utf8").replace(/ {4}ben:\n( {6}.*\n)+/, ""));
    expect(await summary()).toEqual([`+ ben: entry missing on ${serverFile}: up restores it`]);
    await e2e.up();
    expect(Object.keys(entries()).sort()).toEqual(["ada", "ben", "svc-backup", "zed"]);
    const generation = JSON.parse(fs.readFileSync(recordFile, "utf8")).generation;
    expect(Number.isSafeInteger(generation), String(generation)).toBe(true);
    expect((await e2e.summary()).refused).toBeUndefined();
    await e2e.preview({ expectNoChanges: true });
  });

  it("a second stack pointing at a file this stack manages is refused, naming both, and changes nothing", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    const other = await E2EStack.create({ authConfigPath: serverFile, users: { eve: { role: "admin" } } });
    try {
      const lines = await other.summary();
      expect(lines.refused).toBe(
        `${serverFile} is managed by stack organization/fetchml-keys/${e2e.name}; this stack (organization/fetchml-keys/${other.name}) will not touch it. Remove it from one of the two stacks (or destroy the other stack first)`,
      );
      await expect(other.up()).rejects.toThrow();
      expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    } finally {
      await other.cleanup();
    }
  });

  it("for random edits of stack config and of the file, the preview predicts exactly the entries up leaves", async () => {
    await fresh();
    const names = ["ada", "ben", "zed", "kim", "lou"];
    const action = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), name: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant("remove" as const), name: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant("suspend" as const), name: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant("rotate" as const), name: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant("foreign" as const), name: fc.constantFrom("mallory", "trudy") }),
      fc.record({ kind: fc.constant("delete-entry" as const), name: fc.constantFrom(...names) }),
    );
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 6, maxLength: 6 }), async (actions) => {
        for (const a of actions) {
          if (a.kind === "add") users[a.name] = { role: "researcher" };
          if (a.kind === "remove" && Object.keys(users).length > 1) delete users[a.name];
          if (a.kind === "suspend" && users[a.name]) users[a.name] = { ...users[a.name], suspended: true };
          if (a.kind === "rotate" && users[a.name]) users[a.name] = { ...users[a.name], rotation: Number(users[a.name].rotation ?? 0) + 1 };
          if (a.kind === "foreign")
            fs.writeFileSync(
              serverFile,
              fs
                .readFileSync(serverFile, "utf8")
                .replace("  api_keys:\n", `  api_keys:\n    ${a.name}:\n      hash: "${"c".repeat(64)}"\n`)
                .replace("api_keys: {}\n", `api_keys:\n    ${a.name}:\n      hash: "${"c".repeat(64)}"\n`),
            );
          if (a.kind === "delete-entry")
            fs.writeFileSync(serverFile, fs.readFileSync(serverFile, "utf8").replace(new RegExp(` {4}${a.name}:\\n( {6}.*\\n)+`), ""));
          e2e.setConfig(config());
          const predicted = predict(Object.keys(entries()), await summary());
          await e2e.up();
          expect(Object.keys(entries()).sort(), JSON.stringify(a)).toEqual(predicted);
        }
      }),
      { numRuns: 1 },
    );
  });
});

/** The entries after up, as the preview's lines say: what is there, less what goes, plus what comes. */
function predict(now: string[], lines: string[]): string[] {
  const result = new Set(now);
  for (const line of lines) {
    const m = /^([+\-~!]) ([^ :(]+)[ :(]/.exec(line);
    if (!m) continue;
    const [, sign, name] = m;
    if (sign === "-" && /access revoked|suspended \(key kept\)|up removes it/.test(line)) result.delete(name);
    if (sign === "+" && /new key$|access restored|up restores it/.test(line) && !/suspended/.test(line)) result.add(name);
  }
  return [...result].sort();
}
