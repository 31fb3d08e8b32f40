/**
 * A run killed (SIGKILL to its whole process group) while the new auth config streams to a
 * server over SSH never installs a cut-off file: the server keeps the old file or gets the whole
 * new one, and the next `up` converges with every other setting kept. Real sshd on loopback,
 * the runner as a separate process (bin/fetchml-keys), killed at several points of the transfer.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesIn, E2EStack } from "../support/e2eStack";
import { withoutManagedEntries } from "../support/fixtures";
import { descendants, findProcesses } from "../support/processWatch";
import { runRunner } from "../support/runner";
import { expectSameSecret } from "../support/secrets";
import { keyPairInMemory, TestSshd } from "../support/sshd";

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");
const SERVICE_HASH = sha256("svc-backup-key-managed-elsewhere");
// Comments first, `auth:` last: a file cut anywhere loses the auth section (FetchML then runs
// with auth disabled), and every setting before it must survive the repair. 4 MB, twice SSH's
// 2 MB channel window: the step cannot hand the whole file to the kernel at once, so a kill
// early in the transfer really cuts it (a smaller file would be in flight already, and arrive).
const INITIAL =
  `# ${"-".repeat(100)}\n`.repeat(40_000) +
  `server:\n  address: ":9101"\n  tls:\n    enabled: true\nworker:\n  host: gpu-box\nredis:\n  addr: "127.0.0.1:6379"\n` +
  `logging:\n  level: info\n` +
  `auth:\n  enabled: true\n  ip_whitelist: ["127.0.0.1"]\n  api_keys:\n    svc-backup:\n      hash: "${SERVICE_HASH}"\n      admin: false\n`;

let sshd: TestSshd;
let e2e: E2EStack;
let remoteDir: string;
let remoteFile: string;
let server: Record<string, unknown>;
const config = (users: string[]) => ({
  servers: [server],
  preserveEntries: ["svc-backup"],
  users: Object.fromEntries(users.map((u) => [u, { role: "researcher" }])),
});
/** The step's temp file on the server (targets/ssh.ts: `.<file>.fetchml-keys.XXXXXX`). */
const temps = () => fs.readdirSync(remoteDir).filter((n) => n.startsWith(".api.yaml.fetchml-keys."));

beforeAll(async () => {
  const pair = keyPairInMemory("deploy");
  sshd = await TestSshd.start(pair.publicKey);
  remoteDir = path.join(sshd.dir, "fetchml");
  fs.mkdirSync(remoteDir, { mode: 0o700 });
  remoteFile = path.join(remoteDir, "api.yaml");
  fs.writeFileSync(remoteFile, INITIAL, { mode: 0o640 });
  e2e = await E2EStack.create({});
  server = sshd.server(e2e.encryptSecret(pair.privateKey), { configPath: remoteFile });
  e2e.setConfig(config(["alice"]));
  await e2e.up();
}, 300_000);

afterAll(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
});

/** Past this many bytes on the server the rest may be in flight already (the 2 MB window less a margin). */
const IN_FLIGHT = 2_300_000;

/**
 * Starts `up` as its own process group and kills the whole group (and anything it started
 * elsewhere) once the temp file on the server holds at least `threshold` bytes, while part of
 * the file cannot have left this machine yet. Returns the temp file's size seen at the kill
 * (undefined: missed, the transfer was further along).
 */
async function upKilledAt(threshold: number, full: number): Promise<number | undefined> {
  let pid = 0;
  const run = runRunner(["up", "--stack", e2e.name, "--yes"], { env: e2e.env, onStart: (p) => (pid = p) });
  const killAll = () => {
    for (const p of [pid, ...descendants(pid)]) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone already
      }
    }
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // the group is gone
    }
  };
  let seen: number | undefined;
  const deadline = Date.now() + 180_000;
  // Wait (yielding) until the write step runs; from then on watch the temp file without yielding.
  while (Date.now() < deadline && findProcesses((c) => /auth-write/.test(c)).length === 0) {
    await new Promise((r) => setTimeout(r, 2));
  }
  const watchUntil = Date.now() + 20_000;
  let temp: string | undefined;
  while (Date.now() < watchUntil && seen === undefined) {
    if (!temp) temp = temps()[0];
    if (!temp) continue;
    let size: number;
    try {
      size = fs.statSync(path.join(remoteDir, temp)).size;
    } catch {
      break; // renamed into place (or removed): the transfer is over
    }
    if (size >= threshold && size < full - IN_FLIGHT) {
      killAll();
      seen = size;
    } else if (size >= full - IN_FLIGHT) break;
  }
  if (seen === undefined) killAll();
  await run;
  // The remote shell finishes on its own once the connection is gone: wait until it has.
  const settle = Date.now() + 15_000;
  while (temps().length > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
  return seen;
}

describe("a run killed while the new config streams over SSH", () => {
  it("leaves the server's file old or whole-new at every point, and the next up converges keeping every setting", async () => {
    const oldText = fs.readFileSync(remoteFile, "utf8");
    const old = sha256(oldText);
    expect(oldText.length).toBeGreaterThan(200_000);
    expect(oldText.length).toBeGreaterThan(IN_FLIGHT + 1_500_000);
    e2e.setConfig(config(["alice", "bob"]));
    // What the step sends: the file with bob's entry added (a little longer than the old one).
    const full = Buffer.byteLength(oldText);
    const points = [1, 65_536, 800_000, 1_500_000];
    const afterKill: Array<{ point: number; seen?: number; hash: string; text: string }> = [];
    for (let attempt = 0; attempt < 6 && afterKill.filter((k) => k.seen !== undefined).length < 3; attempt++) {
      const point = points[attempt % points.length];
      const seen = await upKilledAt(point, full);
      const text = fs.readFileSync(remoteFile, "utf8");
      afterKill.push({ point, seen, hash: sha256(text), text });
      // Old, or the old file with bob's entry added and nothing else changed: never cut off.
      expect(
        sha256(text) === old || withoutManagedEntries(text, ["bob"]) === oldText,
        `killed at ${seen ?? "?"} bytes: a cut-off file`,
      ).toBe(true);
      // Back to the old file, so the next run has the whole transfer to make again.
      if (sha256(text) !== old) fs.writeFileSync(remoteFile, oldText);
      await e2e.cancel();
    }
    // Killed in the middle of the transfer at least three times, at different sizes.
    const mid = afterKill.filter((k) => k.seen !== undefined);
    expect(mid.length, JSON.stringify(afterKill.map(({ point, seen }) => ({ point, seen })))).toBeGreaterThanOrEqual(3);
    expect(new Set(mid.map((k) => k.point)).size).toBeGreaterThanOrEqual(2);
    console.log(`killed at: ${afterKill.map((k) => `${k.point}->${k.seen ?? "missed"}`).join(", ")} of ${full} bytes`);

    // The next up converges: bob and alice present, every other setting and comment kept.
    await e2e.up();
    const finalText = fs.readFileSync(remoteFile, "utf8");
    const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
    const entries = parse(finalText).auth.api_keys;
    expectSameSecret(entries.bob.hash, sha256(keys.bob), "bob's entry");
    expectSameSecret(entries.alice.hash, sha256(keys.alice), "alice's entry");
    expect(withoutManagedEntries(finalText, ["bob"])).toBe(oldText);
    expect(changesIn((await e2e.preview()).changeSummary)).toEqual({});
    expect(temps()).toEqual([]);

    // After every kill the file was the old one or exactly the new one: never a cut-off file.
    const allowed = new Set([old, sha256(finalText)]);
    const torn = afterKill.filter((k) => !allowed.has(k.hash)).map((k) => ({ point: k.point, seen: k.seen, bytes: k.text.length }));
    expect(torn).toEqual([]);
  }, 900_000);
});
