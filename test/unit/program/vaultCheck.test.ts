/**
 * The run's shared `bw serve` (program/vaultCheck.ts, steps/bitwarden/serve.ts, the vault step),
 * against what attack47 found: another stack's step writing through this run's serve (F2), the
 * lock handed on before the serve was gone (F3), an up that ends while the check starts its serve
 * (F4), a serve killed as it starts (F5), a serve left without its guard (F1); and attack48's
 * L1: a second stop returned while the first was still stopping the serve. `bw` here is a
 * stand-in (test/support/bitwarden/fakeServe.ts); the check, the lock, BwServe and the vault
 * step are the real code.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";

// Outside the engine: a hook keeps its callback, which the tests call as the engine would.
vi.mock("@pulumi/pulumi", async (original) => (await import("../../support/hookMock")).withCallableHooks(await original<object>()));

import { closeVaultChecks, VaultCheck } from "../../../program/vaultCheck";
import { tryBwLock } from "../../../steps/bitwarden/bw";
import { BwServe, sharedServeDir } from "../../../steps/bitwarden/serve";
import { vaultStep } from "../../../steps/vault";
import { runCheck, useFakeBw } from "../../support/bitwarden/fakeServe";

const STACK = "organization/fetchml-keys/dev";
const fake = useFakeBw("vault-check-", { session: "session-of-run-a", tmp: true });
const { requests, serves, lockFree, settings } = fake;
const shared = (stack = STACK) =>
  sharedServeDir({ stack, dataDir: process.env.BITWARDENCLI_APPDATA_DIR!, organizationId: "org-1", itemPrefix: "FetchML API" })!;
const stepRequest = (stack: string) => ({
  stack,
  organizationId: "org-1",
  itemPrefix: "FetchML API",
  onRevoke: "trash" as const,
  cli: fake.bw,
  users: [],
});

describe("the run's shared bw serve", () => {
  it("is joined by this run's vault step, which then needs no bw of its own", async () => {
    const check = new VaultCheck(STACK, settings());
    await runCheck(check);
    try {
      await vaultStep(stepRequest(STACK), "write", undefined);
      // The check's request and the step's, all to one bw serve.
      expect(requests().some((r) => r.endsWith("POST /sync?force=true"))).toBe(true);
      expect(new Set(requests().map((r) => r.split(" ")[0])).size).toBe(1);
    } finally {
      await check.close();
    }
    expect(serves()).toEqual([]);
    expect(await lockFree()).toBe(true);
  });

  it("is never joined by another stack's vault step: that one waits for the lock, and then starts its own (attack47 F2)", async () => {
    const check = new VaultCheck(STACK, settings());
    await runCheck(check);
    delete process.env.BW_SESSION; // the other run's vault is locked
    fs.rmSync(path.join(fake.dir, "requests.log"), { force: true });
    const other = vaultStep(stepRequest("organization/fetchml-keys/prod"), "write", undefined).then(
      () => "wrote",
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 700));
    expect(requests()).toEqual([]);
    await check.close();
    expect(await other).toMatch(/^the Bitwarden vault is not unlocked for this run/);
    expect(requests()).toEqual([]);
  });

  it("hands the bw lock on only once its serve is gone: the next run's serve is never removed by the last one's cleanup (attack47 F3)", async () => {
    const lost: string[] = [];
    for (let i = 0; i < 8; i++) {
      const a = new VaultCheck(STACK, settings());
      await runCheck(a);
      const b = new VaultCheck(STACK, settings());
      const bChecked = runCheck(b).then(
        () => "ok",
        (e: Error) => e.message,
      );
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      await a.close();
      const outcome = await bChecked;
      await new Promise((r) => setTimeout(r, 150));
      if (outcome !== "ok" || !(await BwServe.join(shared()))) lost.push(`round ${i}: ${outcome}`);
      await b.close();
    }
    expect(lost).toEqual([]);
  }, 60_000);

  it("an up that ends while the check is starting its serve leaves no serve running and the lock free (attack47 F4)", async () => {
    fs.writeFileSync(path.join(fake.dir, "start-ms"), "1500");
    const check = new VaultCheck(STACK, settings());
    const checked = runCheck(check).catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 300));
    await check.close();
    expect(await checked).toMatch(/the run ended/);
    expect(serves()).toEqual([]);
    expect(await lockFree()).toBe(true);
  });

  it("a serve killed as it starts fails the check at once, not after a minute with the lock held (attack47 F5)", async () => {
    fs.writeFileSync(path.join(fake.dir, "start-ms"), "30000");
    const check = new VaultCheck(STACK, settings());
    const started = Date.now();
    const checked = runCheck(check).catch((e: Error) => e.message);
    for (let i = 0; i < 50 && serves().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    for (const pid of serves()) process.kill(Number(pid), "SIGKILL");
    expect(await checked).toMatch(/bw serve did not start/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await check.close();
    expect(await lockFree()).toBe(true);
  });

  it("a check closed while it waits for bw's lock stops waiting at once, starts no bw, and takes no lock", async () => {
    // Another run holds the lock (its vault step, say) as this run's up ends.
    const other = (await tryBwLock(fake.bw))!;
    try {
      const check = new VaultCheck(STACK, settings());
      const checked = runCheck(check).catch((e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 500));
      const started = Date.now();
      await check.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await checked).toMatch(/stopped waiting for bw's lock: the run ended first/);
    } finally {
      other();
    }
    expect(requests()).toEqual([]);
    expect(serves()).toEqual([]);
    expect(await lockFree()).toBe(true);
  }, 15_000);

  it("a serve that exits as the check asks it fails the check with bw serve's name, stopped and the lock free", async () => {
    // Its first answer (startShared's wait) comes; at the second (the check's /status) it exits.
    fs.writeFileSync(path.join(fake.dir, "exit-at"), "2");
    const check = new VaultCheck(STACK, settings());
    const checked = runCheck(check).then(
      () => "passed",
      (e: Error) => `${e.constructor.name}: ${e.message}`,
    );
    expect(await checked).toMatch(/^SafeError: bw serve (exited|GET \/status)/);
    await check.close();
    expect(serves()).toEqual([]);
    expect(await lockFree()).toBe(true);
  });

  it("a serve left at the shared name without its guard is stopped by the next check, and by a vault step that finds the lock free (attack47 F1)", async () => {
    for (const next of ["check", "step"] as const) {
      const at = shared();
      fs.mkdirSync(path.dirname(at), { recursive: true, mode: 0o700 });
      fs.mkdirSync(at, { mode: 0o700 });
      // What a program killed between starting bw serve and its guard left: a serve nobody stops.
      const orphan = spawn(fake.bw, ["serve", "--hostname", `unix://${path.join(at, "bw.sock")}`, "--port", "8087"], {
        detached: true,
        stdio: "ignore",
      });
      orphan.unref();
      try {
        for (let i = 0; i < 100 && !(await BwServe.join(at)); i++) await new Promise((r) => setTimeout(r, 50));
        expect(await BwServe.join(at)).toBeInstanceOf(BwServe);
        if (next === "check") {
          const check = new VaultCheck(STACK, settings());
          await runCheck(check);
          await check.close();
        } else {
          await vaultStep(stepRequest(STACK), "write", undefined);
        }
        await new Promise((r) => setTimeout(r, 200));
        expect(fs.existsSync(`/proc/${orphan.pid}`) && !fs.readFileSync(`/proc/${orphan.pid}/stat`, "utf8").includes(") Z"), next).toBe(
          false,
        );
        expect(serves(), next).toEqual([]);
      } finally {
        // Never left running, whatever the test found.
        try {
          process.kill(-orphan.pid!, "SIGKILL");
        } catch {
          // gone, as it should be
        }
      }
    }
  });
});

/** The stand-in, with `from` replaced by `to` (it must be there). */
function changeStandIn(from: string, to: string): void {
  const text = fs.readFileSync(fake.bw, "utf8");
  expect(text).toContain(from);
  fs.writeFileSync(fake.bw, text.replace(from, to), { mode: 0o700 });
}
const SIGTERM_EXIT = 'process.on("SIGTERM", () => process.exit(0));';

describe("VaultCheck.close() and the check's own error path, racing a stop already under way", () => {
  it("a second close() (the runner's closeVaultChecks as index.ts's close runs) waits until the serve is gone", async () => {
    // bw serve takes 2 s to finish on SIGTERM (writing its data file, say).
    changeStandIn(SIGTERM_EXIT, 'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 2000));');
    const check = new VaultCheck(STACK, settings());
    await runCheck(check);
    expect(fake.serves()).toHaveLength(1);
    const first = check.close(); // index.ts: the vault step's output resolved
    await closeVaultChecks(); // the runner: its up() returned
    const servesThen = fake.serves();
    await first;
    // closeVaultChecks is "stops every check's serve in this process": none may run once it returns.
    expect(servesThen).toEqual([]);
  }, 20_000);

  it("keeps bw's lock while its bw serve still runs, when the serve's top process ends mid-check (a bitwarden.cli wrapper)", async () => {
    // bitwarden.cli: a wrapper that runs bw as its child (no exec). At the check's own /status
    // (its second request) the wrapper ends (here: bw kills it; OOM or a stray kill alike) and
    // the request is cut; bw itself takes 3 s to finish on SIGTERM.
    changeStandIn(
      "if (++served === exitAt) process.exit(0);",
      'if (++served === exitAt) { process.kill(process.ppid, "SIGKILL"); q.socket.destroy(); return; }',
    );
    changeStandIn(SIGTERM_EXIT, 'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 3000));');
    fs.writeFileSync(path.join(fake.dir, "exit-at"), "2");
    const wrapper = path.join(fake.dir, "bw-wrapper");
    fs.writeFileSync(wrapper, `#!/bin/sh\n${JSON.stringify(fake.bw)} "$@"\n`, { mode: 0o700 });
    const check = new VaultCheck(STACK, { ...settings(), cli: wrapper });
    const outcome = await runCheck(check).then(
      () => "passed",
      (e: Error) => e.message,
    );
    const servesThen = fake.serves();
    const lockFreeThen = await fake.lockFree();
    await check.close();
    await new Promise((r) => setTimeout(r, 4000));
    // One bw at a time: the lock may go only once no bw serve of this check runs.
    expect(outcome).not.toBe("passed");
    expect(servesThen.length === 0 || !lockFreeThen, `${servesThen.length} serve(s) running, lock free: ${lockFreeThen}`).toBe(true);
  }, 30_000);
});
