/**
 * The run's shared `bw serve` (program/vaultCheck.ts, steps/bitwarden/serve.ts, the vault step),
 * against what attack47 found: another stack's step writing through this run's serve (F2), the
 * lock handed on before the serve was gone (F3), an up that ends while the check starts its serve
 * (F4), a serve killed as it starts (F5), a serve left without its guard (F1). `bw` here is a
 * stand-in (it answers /status as unlocked on the socket it is given and notes each request);
 * the check, the lock, BwServe and the vault step are the real code.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("@pulumi/pulumi", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@pulumi/pulumi")>();
  // Outside the engine: a hook keeps its callback, which the tests call as the engine would.
  class ResourceHook {
    constructor(
      readonly name: string,
      readonly callback: () => Promise<void>,
    ) {}
  }
  return { ...actual, ResourceHook };
});

import { VaultCheck } from "../../../program/vaultCheck";
import { tryBwLock } from "../../../steps/bitwarden/bw";
import { BwServe, sharedServeDir } from "../../../steps/bitwarden/serve";
import { vaultStep } from "../../../steps/vault";
import type { BitwardenSettings } from "../../../config/settings";

const STACK = "organization/fetchml-keys/dev";
const VARIABLES = ["BITWARDENCLI_APPDATA_DIR", "BW_SESSION", "TMPDIR"] as const;
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
const base = os.tmpdir();
let dir: string;
let bw: string;
let log: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(base, "vault-check-"));
  fs.chmodSync(dir, 0o700);
  log = path.join(dir, "requests.log");
  bw = path.join(dir, "bw");
  const startMs = path.join(dir, "start-ms");
  // `serve`: after the milliseconds in start-ms (bw passes a serve no variable of the test's), listens on the socket and answers; `status`: unlocked.
  fs.writeFileSync(
    bw,
    `#!${process.execPath}
const fs = require("node:fs");
const args = process.argv.slice(2);
const note = (line) => fs.appendFileSync(${JSON.stringify(log)}, process.pid + " " + line + "\\n");
if (args[0] === "status") { process.stdout.write('{"status":"unlocked"}'); process.exit(0); }
if (args[0] !== "serve") process.exit(1);
const socket = args[args.indexOf("--hostname") + 1].slice("unix://".length);
setTimeout(() => {
  require("node:http").createServer((q, r) => {
    note(q.method + " " + q.url);
    r.setHeader("Content-Type", "application/json");
    r.end(JSON.stringify({ success: true, data: q.url === "/status" ? { template: { status: "unlocked" } } : { data: [] } }));
  }).listen(socket, () => note("listening"));
}, fs.existsSync(${JSON.stringify(startMs)}) ? Number(fs.readFileSync(${JSON.stringify(startMs)}, "utf8")) : 0);
`,
    { mode: 0o700 },
  );
  process.env.BITWARDENCLI_APPDATA_DIR = path.join(dir, "bw-data");
  process.env.BW_SESSION = "session-of-run-a";
  process.env.TMPDIR = dir;
});

afterEach(async () => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const settings = (): BitwardenSettings => ({
  cli: bw,
  organizationId: "org-1",
  itemPrefix: "FetchML API",
  collectionIds: ["c"],
  onRevoke: "trash",
  repair: 0,
});
const runCheck = (check: VaultCheck) => (check.hook as unknown as { callback: () => Promise<void> }).callback();
const shared = (stack = STACK) =>
  sharedServeDir({ stack, dataDir: process.env.BITWARDENCLI_APPDATA_DIR!, organizationId: "org-1", itemPrefix: "FetchML API" })!;
const requests = () =>
  fs.existsSync(log)
    ? fs
        .readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => /GET|POST|PUT|DELETE/.test(l))
    : [];
const serves = () =>
  fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
        return cmdline.includes(`${dir}/`) && cmdline.includes("\0serve\0");
      } catch {
        return false;
      }
    });
const lockFree = async () => {
  const release = await tryBwLock(bw);
  release?.();
  return release !== undefined;
};
const stepRequest = (stack: string) => ({
  stack,
  organizationId: "org-1",
  itemPrefix: "FetchML API",
  onRevoke: "trash" as const,
  cli: bw,
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
    fs.rmSync(log, { force: true });
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
    fs.writeFileSync(path.join(dir, "start-ms"), "1500");
    const check = new VaultCheck(STACK, settings());
    const checked = runCheck(check).catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 300));
    await check.close();
    expect(await checked).toMatch(/the run ended/);
    expect(serves()).toEqual([]);
    expect(await lockFree()).toBe(true);
  });

  it("a serve killed as it starts fails the check at once, not after a minute with the lock held (attack47 F5)", async () => {
    fs.writeFileSync(path.join(dir, "start-ms"), "30000");
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

  it("a serve left at the shared name without its guard is stopped by the next check, and by a vault step that finds the lock free (attack47 F1)", async () => {
    for (const next of ["check", "step"] as const) {
      const at = shared();
      fs.mkdirSync(path.dirname(at), { recursive: true, mode: 0o700 });
      fs.mkdirSync(at, { mode: 0o700 });
      // What a program killed between starting bw serve and its guard left: a serve nobody stops.
      const orphan = spawn(bw, ["serve", "--hostname", `unix://${path.join(at, "bw.sock")}`, "--port", "8087"], {
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
