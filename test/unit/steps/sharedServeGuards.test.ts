/**
 * The shared `bw serve`'s guards, from recheck47's tests (each failed on b20fcd0): a TMPDIR too
 * long for a socket address, 1.0.0's stored vault request, a process-group id taken as the serve
 * goes, a TMPDIR others may write seen from inside an isolated run. (R5, a kill as bw serve
 * starts: serveGate.test.ts.) `bw` here is a stand-in (test/support/bitwarden/fakeServe.ts);
 * the check, the lock, BwServe and the vault step are the real code. Repros with another account (uid 65534) as the attacker: repro47b/.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";

// Outside the engine: a hook keeps its callback, which the tests call as the engine would.
vi.mock("@pulumi/pulumi", async (original) => (await import("../../support/hookMock")).withCallableHooks(await original<object>()));

import { PROJECT_ROOT } from "../../../cli/paths";
import { VaultCheck } from "../../../program/vaultCheck";
import { socketTmpProblem } from "../../../steps/bitwarden/bw";
import { vaultStep } from "../../../steps/vault";
import { runCheck, useFakeBw } from "../../support/bitwarden/fakeServe";

const STACK = "organization/fetchml-keys/lab";
const fake = useFakeBw("r47b-", { session: "session-of-the-run" });
const { settings } = fake;
const user = {
  name: "alice",
  itemName: "FetchML API alice",
  apiKey: "KEY-SECRET-alice-47",
  apiKeyHash: "a".repeat(64),
  fingerprint: "fp",
  collectionIds: ["c"],
};

describe("a TMPDIR whose socket path is longer than a Unix socket address", () => {
  // Node (libuv) cuts a longer path to 108 bytes, silently, on bind and on connect alike: bw serve
  // and this run's calls then meet at the cut path, outside the user's own 0700 directory.
  const longTmp = () => {
    // The cut falls inside this directory's name, so the cut path is a name in `dir`: in the
    // repro (repro47b/truncated-socket.sh) `dir` is /tmp, where uid 65534 takes that name first.
    const name = "t".repeat(Math.max(20, 120 - fake.dir.length));
    const tmp = path.join(fake.dir, name);
    fs.mkdirSync(tmp, { mode: 0o700 });
    return tmp;
  };

  it("is refused by socketTmpProblem, as the preview's check (bwTrustProblems) and socketParent use it", () => {
    const tmp = longTmp();
    expect(Buffer.byteLength(path.join(tmp, `fetchml-keys-bw-${process.getuid!()}`, `run-${"0".repeat(24)}`, "bw.sock"))).toBeGreaterThan(
      107,
    );
    expect(socketTmpProblem(tmp)).toBeDefined();
  });

  it("never sends a key to a socket outside the user's own directory (another account's, listening at the cut name)", async () => {
    process.env.TMPDIR = longTmp();
    // Another account's listener at the name the cut path leads to (here, for the test, of this
    // account; in repro47b/truncated-socket.sh, uid 65534's in /tmp).
    const cut = Buffer.from(path.join(process.env.TMPDIR, "fetchml-keys-bw-0/run-x/bw.sock")).subarray(0, 108).toString();
    expect(path.dirname(cut)).toBe(fake.dir);
    const received: string[] = [];
    const stranger = http.createServer((q, r) => {
      let body = "";
      q.on("data", (c) => (body += c));
      q.on("end", () => {
        received.push(`${q.method} ${q.url} ${body}`);
        r.setHeader("Content-Type", "application/json");
        r.end(
          JSON.stringify({
            success: true,
            data:
              q.url === "/status" ? { template: { status: "unlocked" } } : (q.url ?? "").startsWith("/list") ? { data: [] } : { id: "x" },
          }),
        );
      });
    });
    await new Promise<void>((r) => stranger.listen(cut, r));
    try {
      const check = new VaultCheck(STACK, settings());
      try {
        await runCheck(check);
        await vaultStep(
          { stack: STACK, organizationId: "org-1", itemPrefix: "FetchML API", onRevoke: "trash", cli: fake.bw, users: [user] },
          "write",
          undefined,
        );
      } catch {
        // refused: what should happen
      } finally {
        await check.close();
      }
    } finally {
      stranger.close();
    }
    expect(received.filter((r) => r.includes("KEY-SECRET-alice-47"))).toEqual([]);
  });
});

describe("the vault request 1.0.0 stored in state", () => {
  it("is still taken by vault-remove (a delete replays the stored request: destroy, an organization change, bitwarden dropped)", () => {
    // As 1.0.0 (and every version before today) made it: no `stack`.
    const stored = { organizationId: "org-1", itemPrefix: "FetchML API", onRevoke: "trash", cli: fake.bw, users: [user] };
    const result = spawnSync(path.join(PROJECT_ROOT, "bin/fetchml-keys-step"), ["vault-remove"], {
      cwd: PROJECT_ROOT,
      input: JSON.stringify(stored),
      env: {
        ...process.env,
        TMPDIR: fake.dir,
        PULUMI_COMMAND_STDOUT: JSON.stringify({ items: [["alice", { id: "item-1", fingerprint: "fp" }]] }),
      },
      encoding: "utf8",
    });
    expect(result.stderr).not.toMatch(/does not match the step's request/);
    expect(result.status).toBe(0);
  });
});

describe("BwServe.close() when the serve's process-group id is taken as it goes", () => {
  // Another account forks round the pid space (pid_max 32768 here) and, the moment the serve's
  // group is gone, makes a group of that id holding a zombie (repro47b/pgid-hang.sh, as uid
  // 65534). Here the squatter lands on the freed pid at once by setting ns_last_pid, which needs
  // root, in a PID namespace of the test's own (so the host's pid counter is left alone).
  it("returns within seconds (the vault check releases the bw lock only after it)", async () => {
    const script = path.join(fake.dir, "close.js");
    fs.writeFileSync(
      script,
      `
const { spawn } = require("node:child_process");
const { BwServe } = require(${JSON.stringify(path.join(PROJECT_ROOT, "dist/steps/bitwarden/serve.js"))});
(async () => {
  const serve = await BwServe.start([${JSON.stringify(fake.bw)}], "session");
  const pgid = serve.owned.child.pid;
  console.log("serve group " + pgid);
  const squatter = spawn("python3", ["-c", \`
import os, sys, time, errno
p = int(sys.argv[1])
while True:
    try:
        os.kill(p, 0)
    except OSError as e:
        if e.errno == errno.ESRCH: break
    time.sleep(0.0002)
open("/proc/sys/kernel/ns_last_pid", "w").write(str(p - 1))
r, w = os.pipe()
c = os.fork()
if c == 0:
    os.setpgid(0, 0)
    os.write(w, b"x")
    os._exit(0)
os.read(r, 1)
print("squatter: pid", c, "group", os.getpgid(c), flush=True)
time.sleep(600)
\`, String(pgid)], { stdio: ["ignore", "inherit", "inherit"], detached: true });
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const outcome = await Promise.race([serve.close().then(() => "returned"), new Promise((r) => setTimeout(() => r("still waiting"), 20000))]);
  console.log("close: " + outcome + " after " + (Date.now() - started) + " ms");
  process.kill(-squatter.pid, "SIGKILL");
  process.exit(0);
})();
`,
    );
    const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", process.execPath, script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (out += c));
    await new Promise((r) => child.on("exit", r));
    expect(out).toMatch(/serve group (\d+)\n[\s\S]*squatter: pid \1 group \1\n/);
    expect(out).toMatch(/close: returned after \d+ ms/);
  }, 60_000);
});

describe("socketTmpProblem inside an ordinary admin's isolated run", () => {
  // scripts/isolated.sh: a user namespace mapping only the admin's uid (root and every other
  // account then read as the overflow uid), FETCHML_KEYS_OWNERS from dist/cli/owners.js run
  // outside, TMPDIR a tmpfs on <outer TMPDIR>/fetchml-keys-run-<uid>. An outer TMPDIR that any
  // account may rename in is refused on the plain path; inside it must be refused too (uid 65534
  // renames the mount point away and puts its own directory there: repro47b/hidden-tmpdir-keys.sh).
  const ADMIN = 1000;
  it("refuses an outer TMPDIR every account may write (mode 0777, no sticky bit)", () => {
    const outer = path.join(fake.dir, "shared-tmp");
    fs.mkdirSync(outer);
    fs.chmodSync(outer, 0o777);
    fs.chmodSync(fake.dir, 0o755);
    const mountPoint = path.join(outer, `fetchml-keys-run-${ADMIN}`);
    fs.mkdirSync(mountPoint, { mode: 0o700 });
    fs.chownSync(mountPoint, ADMIN, ADMIN);
    const asAdmin = ["setpriv", `--reuid=${ADMIN}`, `--regid=${ADMIN}`, "--clear-groups"];
    const env = { PATH: "/usr/bin:/bin", HOME: "/", TMPDIR: outer };
    const owners = spawnSync(
      asAdmin[0],
      [
        ...asAdmin.slice(1),
        process.execPath,
        "--require",
        path.join(PROJECT_ROOT, "dist/build/guard.js"),
        path.join(PROJECT_ROOT, "dist/cli/owners.js"),
      ],
      {
        env,
        encoding: "utf8",
      },
    ).stdout;
    const check = `console.log(require(${JSON.stringify(path.join(PROJECT_ROOT, "dist/steps/bitwarden/bw.js"))}).socketTmpProblem(process.env.TMPDIR) ?? "accepted")`;
    const plain = spawnSync(asAdmin[0], [...asAdmin.slice(1), process.execPath, "-e", check], {
      env: { ...env, TMPDIR: mountPoint },
      encoding: "utf8",
    });
    expect(plain.stdout).toMatch(/is writable by every account/);
    const inside = spawnSync(
      asAdmin[0],
      [
        ...asAdmin.slice(1),
        "unshare",
        "--map-root-user",
        "sh",
        "-c",
        `exec unshare --map-user=${ADMIN} --map-group=${ADMIN} "$0" -e "$1"`,
        process.execPath,
        check,
      ],
      { env: { ...env, TMPDIR: mountPoint, FETCHML_KEYS_OWNERS: owners }, encoding: "utf8" },
    );
    expect(inside.stdout).toMatch(/is writable by every account/);
  });
});
