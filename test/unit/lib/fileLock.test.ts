import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileLocked, lockFile, lockPath } from "../../../lib/fileLock";
import { PROJECT_ROOT } from "../../../cli/paths";

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
    const st = fs.lstatSync(lockPath(file));
    expect([st.isSocket(), st.mode & 0o777]).toEqual([true, 0o600]);
    await expect(lockFile(file)).rejects.toThrow(FileLocked);
    release();
    expect(fs.existsSync(lockPath(file))).toBe(false);
    (await lockFile(file))();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(".fetchml-keys-"))).toEqual([]);
  });

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

  it("takes over whatever nobody listens on: a lock file of another kind, a socket left by a killed holder", async () => {
    const file = path.join(dir, "e.yaml");
    fs.writeFileSync(lockPath(file), "7\n");
    (await lockFile(file))();
    expect(fs.existsSync(lockPath(file))).toBe(false);
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
