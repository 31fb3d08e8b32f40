/**
 * Team mode: state in PostgreSQL (a throw-away cluster on loopback), shared by several
 * working copies. Two `up`s of one stack at once, PostgreSQL stopped in the middle of an
 * `up`, and moving a stack's state from the file:// backend into PostgreSQL as the README
 * says. The real engine's PostgreSQL backend and locking throughout.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { expectedHash } from "../support/oracle";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { findProcesses } from "../support/processWatch";
import { TestPostgres } from "../support/postgres";
import { runRunner } from "../support/runner";
import { expectSameSecret, expectUnchanged } from "../support/secrets";

let pg: TestPostgres;
const stacks: E2EStack[] = [];
const copies: string[] = [];

beforeAll(async () => {
  pg = await TestPostgres.start();
});
afterAll(async () => {
  for (const s of stacks) await s.cleanup();
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
  await pg?.cleanup();
});

/** A stack on PostgreSQL; `viaEnv`: the URL without the password, which comes from PGPASSWORD (as in CI). */
async function pgStack(config: (dir: string) => Record<string, unknown>, viaEnv = false): Promise<{ e2e: E2EStack; serverFile: string }> {
  const backend = viaEnv
    ? { url: (t: string) => pg.url(t, { password: false }), dump: (t: string) => pg.dump(t), env: { PGPASSWORD: pg.password } }
    : { url: (t: string) => pg.url(t), dump: (t: string) => pg.dump(t) };
  const e2e = await E2EStack.create({}, { backend });
  stacks.push(e2e);
  const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  e2e.setConfig(config(e2e.dir));
  return { e2e, serverFile };
}

/** A second admin's working copy of this project (what git would check out, plus the stack file and the build). */
function workingCopy(dir: string, stackFileOf: string): string {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f && fs.existsSync(path.join(PROJECT_ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    // Timestamps kept: a newer package-lock.json would make the runner reinstall.
    fs.cpSync(path.join(PROJECT_ROOT, f), path.join(dir, f), { preserveTimestamps: true });
  }
  const stackFile = path.relative(PROJECT_ROOT, stackFileOf);
  fs.cpSync(stackFileOf, path.join(dir, stackFile));
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  // And its build, as `npm ci` leaves it: without one its runner would first build for half a
  // minute, and the two ups would no longer overlap.
  fs.cpSync(path.join(PROJECT_ROOT, "dist"), path.join(dir, "dist"), { recursive: true, preserveTimestamps: true });
  copies.push(dir);
  return dir;
}

function agree(e2e: E2EStack, serverFile: string, keys: Record<string, string>): void {
  const entries = parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys;
  expect(Object.keys(entries).sort()).toEqual([...Object.keys(keys), "svc-backup"].sort());
  for (const [name, key] of Object.entries(keys)) expectSameSecret(entries[name].hash, expectedHash(key), `${name}'s entry`);
}

describe("state in PostgreSQL, shared by several admins", () => {
  it("two ups of one stack at once from two working copies: one runs, the other is refused with Pulumi's lock message", async () => {
    const { e2e, serverFile } = await pgStack(
      (dir) => ({
        authConfigPath: path.join(dir, "fetchml-server.yaml"),
        preserveEntries: ["svc-backup"],
        // Long enough that the second up's lock check falls inside the first up.
        reloadCommand: "sleep 3",
        users: { alice: { role: "admin" }, bob: { role: "researcher" } },
      }),
      true,
    );
    const other = workingCopy(path.join(e2e.dir, "second-copy"), e2e.stackFile);
    const env = { ...e2e.env };
    const stack = ["--stack", e2e.name];
    const [a, b] = await Promise.all([
      runRunner(["up", "--yes", ...stack], { env }),
      runRunner(["up", "--yes", ...stack], { env, root: other }),
    ]);
    const results = [a, b];
    const ran = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code !== 0);
    // Pulumi's lock is check, write, check: one runs. (If both took it within the same few
    // milliseconds, both would be refused; never both run.)
    expect(ran.length).toBe(1);
    for (const r of refused) {
      expect(r.stderr).toMatch(/the stack is currently locked by 1 lock\(s\)/);
      // Who holds it, with the database URL's credentials masked by Pulumi.
      expect(r.stderr).toMatch(/postgres:\/\/\*\*\*\*:\*\*\*\*@127\.0\.0\.1:\d+\/.*: created by .* \(pid \d+\) at /);
      expect(r.stderr).toMatch(/next: if no other run of stack .* is going on/);
    }
    for (const r of results) expect(r.all.includes(pg.password)).toBe(false);

    // Afterwards state, server config and a preview agree.
    agree(e2e, serverFile, (await e2e.outputs()).apiKeys);
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });

  it("PostgreSQL stopped in the middle of an up: a clear error, the file old or new, and cancel + up converge with no key lost", async () => {
    const config = (bobRotation: number) => (dir: string) => ({
      authConfigPath: path.join(dir, "fetchml-server.yaml"),
      preserveEntries: ["svc-backup"],
      reloadCommand: "sleep 2",
      users: { alice: { role: "admin" }, bob: { role: "researcher", rotation: bobRotation } },
    });
    const { e2e, serverFile } = await pgStack(config(0));
    await e2e.up();
    const oldText = fs.readFileSync(serverFile, "utf8");
    e2e.setConfig(config(1)(e2e.dir));

    const running = e2e.up().then(
      () => undefined,
      (e: Error) => e,
    );
    // Stop the database while the auth write step runs (its reload sleeps).
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && findProcesses((c) => /fetchml-keys-step auth-write|steps\/main\.js auth-write/.test(c)).length === 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await pg.stopServer();
    // The engine retries saving its checkpoint for about a minute (measured: 67 s) before it gives up.
    const failure = await running;
    expect(failure).toBeInstanceOf(Error);
    expect(e2e.output()).toMatch(/error: .*failed to save snapshot: .*connection refused/);
    expect(e2e.output().includes(pg.password) || String(failure).includes(pg.password)).toBe(false);

    // Old or new, never torn.
    const text = fs.readFileSync(serverFile, "utf8");
    const strip = (t: string) => t.replace(/ {4}bob:\n( {6}.*\n)+/, "");
    if (parse(text).auth.api_keys.bob.hash === parse(oldText).auth.api_keys.bob.hash) expectUnchanged(text, oldText, "the server config");
    else expect(strip(text)).toBe(strip(oldText));

    // PostgreSQL back: release the lock, up again.
    await pg.startServer();
    await e2e.cancel();
    const up = await e2e.up();
    expect(up.summary.result).toBe("succeeded");
    agree(e2e, serverFile, (await e2e.outputs()).apiKeys);
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
  });

  it("a stack's state moves from the file:// backend into PostgreSQL with stack export / import (README), keys and all", async () => {
    const local = await E2EStack.create({});
    stacks.push(local);
    const serverFile = path.join(local.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    local.setConfig({ authConfigPath: serverFile, preserveEntries: ["svc-backup"], users: { alice: { role: "admin" } } });
    await local.up();
    const before = await local.outputs();

    // As the README says, with the engine's own commands (the export holds ciphertext only).
    const exported = path.join(local.dir, "export.json");
    const pulumi = (env: Record<string, string>, ...args: string[]) =>
      execFileSync(local.engineBinary, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, encoding: "utf8" });
    pulumi(local.env, "stack", "export", "--stack", local.name, "--file", exported);
    fs.chmodSync(exported, 0o600);
    const pgEnv = { ...local.env, PULUMI_BACKEND_URL: pg.url("moved") };
    const saltOf = () => parse(fs.readFileSync(local.stackFile, "utf8")).encryptionsalt;
    const salt = saltOf();
    pulumi(pgEnv, "stack", "init", local.name, "--no-select", "--non-interactive");
    expect(saltOf()).toBe(salt); // same passphrase, same secrets
    pulumi(pgEnv, "stack", "import", "--stack", local.name, "--file", exported);
    fs.rmSync(exported);

    // The runner on PostgreSQL now sees the same stack: same keys, nothing to change.
    const preview = await runRunner(["preview", "--expect-no-changes", "--stack", local.name], { env: pgEnv });
    expect(preview.code).toBe(0);
    local.env.PULUMI_BACKEND_URL = pgEnv.PULUMI_BACKEND_URL;
    const after = await local.outputs();
    expectSameSecret(after.apiKeys.alice, before.apiKeys.alice, "alice's key after the move");
    expect(after.users.alice.fingerprint).toBe(before.users.alice.fingerprint);
  });
});
