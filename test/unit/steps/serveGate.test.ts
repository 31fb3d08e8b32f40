/**
 * attack48 Q1: the gate (BwServe.spawnIn: `bw serve` starts behind /bin/sh that waits for "go").
 * A program SIGKILLed at each moment of the start; and one whose guard could not be started
 * (fork(2) failing, EAGAIN under pid or memory exhaustion, which another account can cause:
 * uid 65534's RLIMIT_NPROC here is 96365, pid_max 32768). From attack48 (repro48/ on its
 * branch); the guard case failed on bdb8036.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { useFakeBw } from "../../support/bitwarden/fakeServe";

const fake = useFakeBw("a48-gate-", { session: "session", tmp: true });

/** Runs BwServe.start in a child whose spawn is wrapped by `hook` (JS); the child's end, and serves left 1.5 s later. */
async function startKilled(hook: string): Promise<{ ended: unknown; left: string[]; out: string }> {
  const script = path.join(fake.dir, "killed.js");
  fs.writeFileSync(
    script,
    `
const childProcess = require("node:child_process");
const spawn = childProcess.spawn;
const die = () => process.kill(process.pid, "SIGKILL");
process.on("uncaughtException", (e) => console.error("uncaught, logged as Pulumi's host does: " + e.message));
childProcess.spawn = function (command, args, options) {
  ${hook}
};
const { BwServe } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist/steps/bitwarden/serve.js"))});
BwServe.start([${JSON.stringify(fake.bw)}], "session").then(() => console.log("started"), (e) => console.log("failed: " + e.message));
setTimeout(() => {}, 10000);
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TMPDIR: fake.dir } });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c));
  child.stderr.on("data", (c: Buffer) => (out += c));
  const ended = await new Promise((r) => child.on("exit", (_code, signal) => r(signal)));
  await new Promise((r) => setTimeout(r, 1_500));
  const left = fake.serves();
  for (const pid of left) process.kill(Number(pid), "SIGKILL");
  return { ended, left, out };
}

describe("a program killed at each moment of the gate's start", () => {
  const windows: Record<string, string> = {
    // recheck47 R5: before the gate, a kill here left a serve nobody stopped, unlocked.
    "as soon as bw serve is spawned, before the guard is told the group": `
      const child = spawn.call(this, command, args, options);
      if ((args ?? []).includes("serve") && !(args ?? []).includes("bw-guard")) die();
      return child;`,
    "after the guard is told the group, before go": `
      const child = spawn.call(this, command, args, options);
      if ((args ?? []).includes("bw-guard")) { const w = child.stdin.write.bind(child.stdin); child.stdin.write = (...x) => { const r = w(...x); die(); return r; }; }
      return child;`,
    "right after go": `
      const child = spawn.call(this, command, args, options);
      if ((args ?? []).includes("bw-gate")) { const e = child.stdin.end.bind(child.stdin); child.stdin.end = (...x) => { const r = e(...x); die(); return r; }; }
      return child;`,
    "once bw serve answers": `
      const child = spawn.call(this, command, args, options);
      if ((args ?? []).includes("bw-gate")) { const e = child.stdin.end.bind(child.stdin); child.stdin.end = (...x) => { const r = e(...x); setTimeout(die, 600); return r; }; }
      return child;`,
  };
  for (const [when, hook] of Object.entries(windows)) {
    it(`leaves no bw serve running: ${when}`, async () => {
      const { ended, left } = await startKilled(hook);
      expect(ended).toBe("SIGKILL");
      expect(left).toEqual([]);
    });
  }
});

describe("a guard that could not be started", () => {
  it("is noticed: no go is sent, bw serve never starts, and the start fails (attack48 G1)", async () => {
    // The guard's spawn fails as a fork under pid exhaustion does (Node: an 'error' event, no pid);
    // simulated with a missing program, which Node reports the same way.
    const { ended, left, out } = await startKilled(`
      const guard = (args ?? []).includes("bw-guard");
      const child = spawn.call(this, guard ? "/nonexistent/guard-fork-failed" : command, args, options);
      if (guard) setTimeout(die, 1000);
      return child;`);
    expect(ended).toBe("SIGKILL");
    // On bdb8036: "started" (the check would pass), and the serve outlived the kill.
    expect({ out: out.split("\n").includes("started") ? "started" : "refused", left }).toEqual({ out: "refused", left: [] });
    expect(out).toContain("failed: bw serve's guard could not be started");
  });
});
