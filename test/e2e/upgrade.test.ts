/**
 * A stack made by fetchml-keys as it was before this version (commit a219900 of this
 * repository: `User` components, per-user issue records and delivery files, a guard resource,
 * `writers/` commands) is taken over by today's code: no key is replaced, no access changes,
 * nothing is lost, and the old resources' deletes (which run the command strings stored in
 * state) leave today's files alone.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { expectContainsSecret, expectSameSecret, expectUnchanged } from "../support/secrets";

const BEFORE = "a219900";
let old: string;
let e2e: E2EStack;
let serverFile: string;
let deliveryDir: string;
let oldOutputs: Record<string, any>;

function runOld(args: string[]): string {
  const r = spawnSync(path.join(old, "node_modules", ".bin", "tsx"), ["cli/main.ts", ...args], {
    cwd: old,
    env: { ...process.env, ...e2e.env, PATH: `${path.join(PROJECT_ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`the old runner failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

beforeAll(async () => {
  // The old code, as committed, beside this checkout (git's history is part of a clone).
  old = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-keys-before-"));
  const archive = spawnSync("git", ["-C", PROJECT_ROOT, "archive", "--format=tar", BEFORE], { maxBuffer: 256 * 1024 * 1024 });
  if (archive.status !== 0) throw new Error(`git archive ${BEFORE} failed: ${archive.stderr}; this test needs the repository's history`);
  execFileSync("tar", ["-x", "-C", old], { input: archive.stdout });
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(old, "node_modules"));

  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  deliveryDir = path.join(e2e.dir, "deliver");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig({
    authConfigPath: serverFile,
    deliveryDir,
    preserveEntries: ["svc-backup"],
    users: { alice: { role: "admin" }, bob: { role: "researcher", rotation: 2 }, carol: { role: "analyst", suspended: true } },
  });
  // The old runner reads the same stack file and backend.
  fs.copyFileSync(e2e.stackFile, path.join(old, "stacks", path.basename(e2e.stackFile)));
  runOld(["up", "--stack", e2e.name, "--yes"]);
  oldOutputs = JSON.parse(runOld(["output", "--stack", e2e.name, "--show-secrets", "--json"]));
}, 300_000);

afterAll(async () => {
  await e2e?.cleanup();
  if (old) fs.rmSync(old, { recursive: true, force: true });
});

describe("upgrading a stack made before this version", () => {
  it("the old version issued keys, wrote the file and the delivery files (and a .bak)", () => {
    const entries = parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
    expectSameSecret(entries.alice.hash, expectedHash(oldOutputs.apiKeys.alice), "alice's entry");
    expectContainsSecret(fs.readFileSync(path.join(deliveryDir, "alice.toml"), "utf8"), oldOutputs.apiKeys.alice, "the delivery file");
    expect(fs.existsSync(`${serverFile}.bak`)).toBe(true);
  });

  it("today's preview replaces no key and changes no access", async () => {
    expect([...(await e2e.summary())]).toEqual([]);
    const steps: Array<{ op: string; type: string; urn: string }> = [];
    const { stack } = await e2e.current();
    const preview = await stack.preview({ onEvent: (e: EngineEvent) => e.resourcePreEvent && steps.push(e.resourcePreEvent.metadata) });
    expect(preview.changeSummary.replace ?? 0).toBe(0);
    const keys = steps.filter((s) => s.type === "random:index/randomPassword:RandomPassword");
    expect(keys.map((s) => s.op)).toEqual(["same", "same", "same"]);
    // What goes: the old per-user issue records and delivery steps, the guard resource.
    const deleted = steps.filter((s) => s.op === "delete").map((s) => s.urn.slice(s.urn.lastIndexOf("::") + 2));
    expect(deleted.sort()).toEqual(
      ["alice-direct", "alice-direct-file", "alice-issued", "bob-direct", "bob-direct-file", "bob-issued"]
        .concat(["carol-direct", "carol-direct-file", "carol-issued", "revocations", "revocations-check"])
        .sort(),
    );
  });

  it("today's up keeps every key, entry and delivery file, and removes the old .bak", async () => {
    const before = fs.readFileSync(serverFile, "utf8");
    await e2e.up();
    const outputs = await e2e.outputs();
    expectUnchanged(outputs.apiKeys, oldOutputs.apiKeys, "the keys");
    expectUnchanged(fs.readFileSync(serverFile, "utf8"), before, "the server config");
    for (const name of ["alice", "bob", "carol"]) {
      expectContainsSecret(fs.readFileSync(path.join(deliveryDir, `${name}.toml`), "utf8"), oldOutputs.apiKeys[name], "the delivery file");
    }
    expect(e2e.output()).toMatch(/now kept by the delivery step; left in place/);
    expect(fs.existsSync(`${serverFile}.bak`)).toBe(false);
    expect(outputs.users.bob).toMatchObject({ fingerprint: oldOutputs.users.bob.fingerprint, issuedAt: oldOutputs.users.bob.issuedAt });
  });

  it("afterwards all is quiet, and destroy takes out exactly this stack's entries", async () => {
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
    await e2e.destroy();
    expect(Object.keys(parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys)).toEqual(["svc-backup"]);
    expect(fs.readdirSync(deliveryDir)).toEqual([]);
  });
});
