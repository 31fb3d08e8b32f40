import { spawn, spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileLocked, lockFile, lockPath } from "../../../lib/fileLock";
import { PROJECT_ROOT } from "../../../cli/paths";
import { deadSocket } from "../../support/sockets";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
const BUILT = JSON.stringify(path.join(PROJECT_ROOT, "dist", "lib", "fileLock.js"));
/** In a fresh PID namespace with its own /proc, as every isolated run is. */
const NEW_PID_NS = ["unshare", "--pid", "--fork", "--mount-proc"];

/**
 * Another command holding the lock on `file` (the built module, as the runner and steps run it),
 * in a process group of its own; `nested`: its node starts after 40 other processes of its
 * namespace, so its pid there is one the checker's namespace does not have (small pids do exist
 * there: node's threads count as pids).
 */
async function holder(file: string, nested = false): Promise<{ kill: (signal: NodeJS.Signals) => void; gone: Promise<unknown> }> {
  const marker = path.join(dir, `held-${Math.random().toString(16).slice(2)}`);
  const script = `new Promise((r) => r(require(${BUILT}).lockFile(${JSON.stringify(file)}))).then(() => {
    require("fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid)); setInterval(() => {}, 1000); });`;
  const command = nested
    ? [...NEW_PID_NS, "sh", "-c", `for i in $(seq 40); do true & done; wait; "$0" -e "$1"; :`, NODE, script]
    : [...NEW_PID_NS, NODE, "-e", script];
  const child = spawn(command[0], command.slice(1), { stdio: "ignore", detached: true });
  const gone = new Promise((r) => child.on("exit", r));
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(fs.existsSync(marker)).toBe(true);
  return { kill: (signal) => process.kill(-child.pid!, signal), gone };
}

/** The lock as a killed command leaves it: a socket in it that nobody listens on. */
async function staleLock(file: string): Promise<void> {
  fs.rmSync(lockPath(file), { recursive: true, force: true });
  fs.mkdirSync(lockPath(file), { mode: 0o700 });
  await deadSocket(path.join(lockPath(file), "0123456789abcdef"));
}

/** The next command, in a PID namespace of its own: "took" or the error it got. */
function nextCommand(file: string): string {
  const script = `new Promise((r) => r(require(${BUILT}).lockFile(${JSON.stringify(file)})))
    .then((release) => { console.log("took"); release(); }, (e) => console.log(e.constructor.name));`;
  const r = spawnSync(NEW_PID_NS[0], [...NEW_PID_NS.slice(1), NODE, "-e", script], { encoding: "utf8", timeout: 20_000 });
  expect(r.stderr).toBe("");
  return r.stdout.trim();
}

describe("lockFile", () => {
  it("lets one holder in at a time, keeps the lock for this account alone, and releases", async () => {
    const file = path.join(dir, "a.yaml");
    const release = await lockFile(file);
    const lock = fs.lstatSync(lockPath(file));
    expect([lock.isDirectory(), lock.mode & 0o777]).toEqual([true, 0o700]);
    const [socket] = fs.readdirSync(lockPath(file)).map((n) => fs.lstatSync(path.join(lockPath(file), n)));
    expect([socket.isSocket(), socket.mode & 0o777]).toEqual([true, 0o600]);
    await expect(lockFile(file)).rejects.toThrow(FileLocked);
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(lockPath(file))).toEqual([]);
    (await lockFile(file))();
  });

  it("never admits two holders when many commands take a lock left by a killed one at the same moment", async () => {
    // Worker threads (real parallelism) with the built module; a shared counter of holders.
    const file = path.join(dir, "race.yaml");
    const script = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { lockFile } = require(${BUILT});
      const shared = new Int32Array(workerData.shared);
      parentPort.on("message", async () => {
        const r = { took: false, double: false, error: undefined };
        try {
          const release = await lockFile(workerData.file);
          r.took = true;
          if (Atomics.add(shared, 0, 1) > 0) r.double = true;
          await new Promise((s) => setTimeout(s, 5));
          Atomics.sub(shared, 0, 1);
          release();
        } catch (e) { if (e.constructor.name !== "FileLocked") r.error = String(e); }
        parentPort.postMessage(r);
      });`;
    const shared = new SharedArrayBuffer(4);
    const workers = Array.from({ length: 6 }, () => new Worker(script, { eval: true, workerData: { file, shared } }));
    let taken = 0;
    let doubles = 0;
    try {
      for (let trial = 0; trial < 100; trial++) {
        await staleLock(file);
        const results = await Promise.all(
          workers.map(
            (w) => new Promise<{ took: boolean; double: boolean; error?: string }>((r) => (w.once("message", r), w.postMessage("go"))),
          ),
        );
        expect(results.map((r) => r.error).filter(Boolean)).toEqual([]);
        taken += results.filter((r) => r.took).length;
        doubles += results.filter((r) => r.double).length;
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    expect(doubles).toBe(0);
    expect(taken).toBeGreaterThan(50); // most rounds someone gets it: refusing everyone would also pass the line above
  }, 120_000);

  it("never admits two holders when takers stall between the steps of taking it (forced with strace's delay injection)", async () => {
    // E stalls before it listens and before it removes a dead name, C before it listens: an
    // earlier design let E take C's name for dead while C was still to listen, and remove it
    // once C held the lock, so that F found the lock free while C held it.
    const file = path.join(dir, "stall.yaml");
    const t0 = Date.now();
    const events: Array<{ who: string; what: string; at: number }> = [];
    const taker = (who: string, holdMs: number, inject: string[] = []) => {
      const script = `new Promise((r) => r(require(${BUILT}).lockFile(${JSON.stringify(file)}))).then(
        (release) => { console.log("held"); setTimeout(() => { console.log("released"); release(); }, ${holdMs}); },
        (e) => console.log(e.constructor.name));`;
      const strace = ["strace", "-qq", "-o", "/dev/null", "-e", "trace=listen,unlink,unlinkat", ...inject.flatMap((i) => ["-e", i])];
      const child = spawn(strace[0], [...strace.slice(1), NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      child.stdout.on("data", (b: Buffer) => {
        for (const what of b.toString().trim().split("\n")) events.push({ who, what, at: Date.now() - t0 });
      });
      return new Promise((r) => child.on("exit", r));
    };
    const after = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const all = [taker("E", 100, ["inject=listen:delay_enter=3000000", "inject=unlink,unlinkat:delay_enter=5000000:when=1"])];
    await after(800);
    all.push(taker("G", 500));
    await after(1500);
    all.push(taker("C", 6000, ["inject=listen:delay_enter=4000000"]));
    await after(6500);
    all.push(taker("F", 3000));
    await Promise.all(all);
    let holding = 0;
    let most = 0;
    for (const e of events.sort((a, b) => a.at - b.at)) {
      if (e.what === "held") most = Math.max(most, ++holding);
      if (e.what === "released") holding--;
    }
    expect(most, JSON.stringify(events)).toBe(1);
    expect(events.filter((e) => e.what === "held").length, JSON.stringify(events)).toBeGreaterThan(0);
  }, 60_000);

  it("is free at once after its holder was killed (SIGKILL), though the next command has the same pid in its own namespace", async () => {
    // Every isolated run is a fresh PID namespace where the same process gets the same pid: a
    // lock judged by its pid looked held by the very command asking, for ever.
    const file = path.join(dir, "b.yaml");
    const held = await holder(file);
    held.kill("SIGKILL");
    await held.gone;
    expect(nextCommand(file)).toBe("took");
  }, 60_000);

  it("stays held while its holder runs in another PID namespace, whatever pid it has there, and while it is stopped (^Z)", async () => {
    const file = path.join(dir, "c.yaml");
    const held = await holder(file, true);
    try {
      expect(nextCommand(file)).toBe("FileLocked");
      held.kill("SIGSTOP");
      expect(nextCommand(file)).toBe("FileLocked");
    } finally {
      held.kill("SIGKILL");
      await held.gone;
    }
    expect(nextCommand(file)).toBe("took");
  }, 60_000);

  it("waits for a live holder when asked to, and takes the lock once it is released", async () => {
    const file = path.join(dir, "d.yaml");
    const release = await lockFile(file);
    setTimeout(release, 500);
    const started = Date.now();
    (await lockFile(file, { waitMs: 10_000 }))();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it("takes over a lock file of 1.0.0's kind (a pid in a file)", async () => {
    const file = path.join(dir, "e.yaml");
    fs.writeFileSync(lockPath(file), "7\n");
    (await lockFile(file))();
    expect(fs.lstatSync(lockPath(file)).isDirectory()).toBe(true);
  });

  it("refuses a lock directory another account owns or can write (it could remove a holder's socket, or plant one)", async () => {
    const file = path.join(dir, "f.yaml");
    fs.mkdirSync(lockPath(file), { mode: 0o700 });
    fs.chownSync(lockPath(file), 65534, 65534);
    await expect(lockFile(file)).rejects.toThrow(/f\.yaml\.lock: the lock directory belongs to uid 65534 \(mode 700\)/);
    fs.chownSync(lockPath(file), process.geteuid!(), process.getegid!());
    fs.chmodSync(lockPath(file), 0o777);
    await expect(lockFile(file)).rejects.toThrow(/belongs to uid 0 \(mode 777\); only this account or root may own it, closed to others/);
  });

  it("works beside a file whose path is longer than a socket address may be (107 bytes)", async () => {
    const deep = path.join(dir, "a-checkout-somewhere-deep".repeat(5), "stacks");
    fs.mkdirSync(deep, { recursive: true });
    const file = path.join(deep, "Pulumi.a-stack-with-a-rather-long-name-for-its-team.yaml");
    expect(lockPath(file).length).toBeGreaterThan(200);
    const release = await lockFile(file);
    expect(nextCommand(file)).toBe("FileLocked");
    release();
    expect(nextCommand(file)).toBe("took");
  }, 60_000);
});
