/**
 * The run's shared `bw serve` (attack47's tests, adopted; the vault check starts it in the program, the vault
 * step joins it) when a process of the run is killed with SIGKILL between the check and the
 * step, on the plain `pulumi` path (the program is its own process under the engine). Whatever
 * is killed: no unlocked `bw serve` may outlive the run (looked for in all of /proc: a serve
 * whose program died is no longer a descendant of this test), the bw lock must be free, and
 * the next up must converge.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockFile } from "../../lib/fileLock";
import { sharedServeDir } from "../../steps/bitwarden/serve";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { changesIn, E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { findProcesses } from "../support/processWatch";
import { closeVaultChecks } from "../../program/vaultCheck";

let vault: TestVault;
let e2e: E2EStack;
let rotation = 0;

/** Every `bw serve` on this machine listening in this user's socket directory (not only this test's descendants). */
function servesAnywhere(): Array<{ pid: number; ppid: number; cmdline: string }> {
  // This test's own shared serve only: its name comes from its data dir, organization and prefix.
  const dir = sharedServeDir({
    stack: `organization/fetchml-keys/${e2e.name}`,
    dataDir: path.resolve(vault.env.BITWARDENCLI_APPDATA_DIR),
    organizationId: vault.org.id,
    itemPrefix: "FetchML API",
  })!;
  const out = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (!cmdline.includes(" serve ") || !cmdline.includes(`unix://${dir}/`)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      out.push({ pid: Number(entry), ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]), cmdline });
    } catch {
      // gone
    }
  }
  return out;
}

/** Every bw process on this machine using this test's bw data dir (by its environment), as "pid:argv[2]". */
function bwProcessesAnywhere(): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!argv.some((a) => a.endsWith("bw.js"))) continue;
      if (!fs.readFileSync(`/proc/${entry}/environ`, "utf8").includes(vault.env.BITWARDENCLI_APPDATA_DIR)) continue;
      out.push(`${entry}:${argv[argv.findIndex((a) => a.endsWith("bw.js")) + 1]}`);
    } catch {
      // gone
    }
  }
  return out;
}

async function lockFree(): Promise<boolean> {
  const dataDir = vault.env.BITWARDENCLI_APPDATA_DIR;
  try {
    const release = await lockFile(dataDir, { lock: path.join(dataDir, "fetchml-keys.lock"), waitMs: 0 });
    release();
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  vault = await startVault(["FetchML"]);
  e2e = await E2EStack.create({}, { via: "plain" });
  const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  for (const [name, value] of Object.entries(vault.env)) e2e.setProgramEnv(name, value);
  e2e.setConfig({
    authConfigPath: serverFile,
    preserveEntries: ["svc-backup"],
    bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML] },
    users: { alice: { role: "admin", delivery: "bitwarden", rotation } },
  });
  await e2e.up();
}, 300_000);

afterAll(async () => {
  for (const name of Object.keys(vault?.env ?? {})) e2e?.setProgramEnv(name, undefined);
  await e2e?.cleanup();
  await vault?.stop();
});

/**
 * Rotates alice on the plain path and SIGKILLs `victim` (given the shared serve's pid) as soon
 * as the vault check's serve listens; then what is left after `settleMs`.
 */
async function rotateAndKill(victim: (serve: { pid: number; ppid: number }) => number[], settleMs = 10_000, clean = true) {
  rotation++;
  e2e.setConfig({
    ...JSON.parse(JSON.stringify({})),
    authConfigPath: path.join(e2e.dir, "fetchml-server.yaml"),
    preserveEntries: ["svc-backup"],
    bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML] },
    users: { alice: { role: "admin", delivery: "bitwarden", rotation } },
  });
  const running = e2e.up().then(
    () => "finished" as const,
    () => "failed" as const,
  );
  let killed: number[] = [];
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const serve = servesAnywhere()[0];
    if (serve) {
      killed = victim(serve);
      // Never this test's own process or its parents.
      killed = killed.filter((pid) => pid > 1 && pid !== process.pid && pid !== process.ppid);
      for (const pid of killed) process.kill(pid, "SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const outcome = await running;
  await new Promise((r) => setTimeout(r, settleMs));
  const left = servesAnywhere();
  const lock = await lockFree();
  if (clean) for (const s of left) process.kill(s.pid, "SIGKILL"); // not left for the next test
  return { killed: killed.length, outcome, servesLeft: left.length, lockFree: lock };
}

async function converges(): Promise<Record<string, number>> {
  try {
    await e2e.up();
  } catch {
    await e2e.cancel().catch(() => undefined);
    await e2e.up();
  }
  return changesIn((await e2e.preview()).changeSummary);
}

describe("the shared bw serve when a process of a plain-path run is killed", () => {
  it("kill -9 of the engine: no unlocked bw serve left, the bw lock free, the next up converges", async () => {
    let program = 0;
    const result = await rotateAndKill(
      (serve) => {
        program = serve.ppid;
        return findProcesses((c) => c.includes(e2e.name) && c.includes(" up "));
      },
      0,
      false,
    );
    // Watched for a minute and a half: the program the engine started (the serve's parent), its serve, the lock.
    const timeline: string[] = [];
    const t0 = Date.now();
    for (;;) {
      const state = `program ${alive(program) ? "alive" : "gone"}, shared serve ${servesAnywhere().length}, bw processes [${bwProcessesAnywhere().join(" ")}], lock ${(await lockFree()) ? "free" : "held"}`;
      timeline.push(`+${Math.round((Date.now() - t0) / 1000)}s ${state}`);
      if ((!alive(program) && servesAnywhere().length === 0) || Date.now() - t0 > 90_000) break;
      await new Promise((r) => setTimeout(r, 10_000));
    }
    // The next up, as the admin would run it once the engine is gone (state lock cancelled).
    await e2e.cancel().catch(() => undefined);
    let nextError = "";
    try {
      await converges();
    } catch (e) {
      nextError = String((e as Error).message)
        .split("\n")
        .filter((l) => /bw|lock/.test(l))
        .slice(0, 3)
        .join(" | ");
    }
    if (program !== process.pid && alive(program)) process.kill(program, "SIGKILL"); // not left for the next test
    for (const s of servesAnywhere()) process.kill(s.pid, "SIGKILL");
    expect(result.killed, "the engine was killed").toBeGreaterThan(0);
    expect({ servesLeftAfter10s: timeline.find((l) => / shared serve [1-9]/.test(l) && !/^\+0s/.test(l)) ?? "none", nextError }).toEqual({
      servesLeftAfter10s: "none",
      nextError: "",
    });
  }, 600_000);

  it("kill -9 of the program (the serve's parent) as its bw serve starts, three times: no unlocked bw serve left, the bw lock free, the next up converges", async () => {
    const results = [];
    for (let i = 0; i < 3; i++) {
      const result = await rotateAndKill((serve) => {
        const cmdline = fs.readFileSync(`/proc/${serve.ppid}/cmdline`, "utf8").replace(/\0/g, " ");
        return cmdline.includes("@pulumi/pulumi/cmd/run") ? [serve.ppid] : [];
      }, 5_000);
      results.push(result);
      await converges();
    }
    expect(results.filter((r) => r.killed !== 1 || r.servesLeft > 0 || !r.lockFree)).toEqual([]);
  }, 600_000);

  it("^C on the plain path (SIGINT to the engine's process group) once the vault check's serve listens: no unlocked bw serve left, the bw lock free, the next up converges", async () => {
    let info = "";
    const result = await rotateAndKill((serve) => {
      const [engine] = findProcesses((c) => c.includes(e2e.name) && c.includes(" up "));
      const pgidOf = (pid: number) => {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      };
      // What a terminal's ^C reaches: every process of the engine's group (not this test's own).
      const group = [engine, ...findProcesses(() => true)].filter((pid) => {
        try {
          return pid !== process.pid && pgidOf(pid) === pgidOf(engine);
        } catch {
          return false;
        }
      });
      info = `engine ${engine} group ${pgidOf(engine)}; program ${serve.ppid} group ${pgidOf(serve.ppid)}; SIGINT to ${group.length}`;
      for (const pid of group) process.kill(pid, "SIGINT");
      return [];
    }, 10_000);
    expect(info).toMatch(/SIGINT to [1-9]/);
    expect({ servesLeft: result.servesLeft, lockFree: result.lockFree }).toEqual({ servesLeft: 0, lockFree: true });
    expect(await converges()).toEqual({});
  }, 300_000);

  it("runner path (the program in this process): kill -9 of the engine while the vault check starts its serve leaves no serve running and no lock held once up has returned", async () => {
    e2e.via = "runner";
    try {
      await e2e.cancel().catch(() => undefined);
      const result = await rotateAndKill(() => findProcesses((c) => c.includes(e2e.name) && c.includes(" up ")), 0, false);
      const timeline: string[] = [];
      for (const at of [0, 5]) {
        if (at > 0) await new Promise((r) => setTimeout(r, 5_000));
        timeline.push(`+${at}s shared serve ${servesAnywhere().length}, lock ${(await lockFree()) ? "free" : "held"}`);
      }
      await closeVaultChecks(); // what is left of it, stopped for the tests that follow
      expect(result.killed, "the engine was killed").toBeGreaterThan(0);
      expect(timeline).toEqual(["+0s shared serve 0, lock free", "+5s shared serve 0, lock free"]);
    } finally {
      e2e.via = "plain";
    }
  }, 300_000);
});
