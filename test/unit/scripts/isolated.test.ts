/**
 * scripts/isolated.sh on its own, with small real commands: the command gets its own network
 * and PID namespaces, still reaches a service on the host's loopback, opens nothing the host
 * can reach, gets TERM when the wrapper does, and is told about exactly once when it cannot be
 * isolated. (The runner inside it, attacked by a second user and killed: test/e2e/isolation.)
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { AS_NOBODY, NOBODY, PYTHON_AS_NOBODY } from "../../support/nobody";

const SCRIPT = path.join(PROJECT_ROOT, "scripts", "isolated.sh");
const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
const env = { ...process.env, FETCHML_KEYS_ISOLATED: "", FETCHML_KEYS_ISOLATION: "" } as Record<string, string | undefined>;
delete env.FETCHML_KEYS_ISOLATED;
delete env.FETCHML_KEYS_ISOLATION;

function isolated(script: string, extraEnv: Record<string, string> = {}) {
  return spawnSync("sh", [SCRIPT, NODE, "-e", script], { encoding: "utf8", env: { ...env, ...extraEnv }, timeout: 30_000 });
}

let hostServer: net.Server;
let hostPort = 0;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "isolated-test-"));
  hostServer = net.createServer((s) => s.end("hello from the host\n"));
  await new Promise<void>((r) => hostServer.listen(0, "127.0.0.1", r));
  hostPort = (hostServer.address() as net.AddressInfo).port;
});
afterAll(() => {
  hostServer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("scripts/isolated.sh", () => {
  it("runs the command in its own network and PID namespaces, marked isolated, with its exit status", () => {
    const r = isolated(
      `const fs = require("fs"); console.log(JSON.stringify({ net: fs.readlinkSync("/proc/self/ns/net"), pid: fs.readlinkSync("/proc/self/ns/pid"), mark: process.env.FETCHML_KEYS_ISOLATED, uid: process.getuid() })); process.exit(7)`,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(7);
    const inside = JSON.parse(r.stdout);
    expect(inside.net).not.toBe(fs.readlinkSync("/proc/self/ns/net"));
    expect(inside.pid).not.toBe(fs.readlinkSync("/proc/self/ns/pid"));
    expect(inside.mark).toBe("1");
    expect(inside.uid).toBe(process.getuid!());
  });

  it("reaches a service on the host's loopback at its own address, and what it listens on is not reachable from the host", async () => {
    const portFile = path.join(dir, "port");
    const child = spawn(
      "sh",
      [
        SCRIPT,
        NODE,
        "-e",
        `const net = require("net"); const fs = require("fs");
         net.connect(${hostPort}, "127.0.0.1").on("data", (d) => {
           const server = net.createServer((s) => s.end("inside\\n")).listen(0, "127.0.0.1", () => {
             fs.writeFileSync(${JSON.stringify(portFile)}, server.address().port + " " + d.toString().trim());
           });
         });
         setTimeout(() => process.exit(0), 20000);`,
      ],
      { env, stdio: "ignore" },
    );
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(portFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const [port, ...greeting] = fs.readFileSync(portFile, "utf8").split(" ");
    expect(greeting.join(" ")).toBe("hello from the host");
    const reached = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), "127.0.0.1");
      s.on("data", (d) => resolve(`CONNECTED ${d}`)).on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    child.kill("SIGKILL");
    // (ECONNREFUSED, unless something of the host's own happens to listen on that port)
    expect(reached).not.toBe("CONNECTED inside\n");
  });

  it("gives the command the caller's stdin and INT and QUIT at their defaults (a confirmation and ^C still work)", () => {
    const r = spawnSync(
      "sh",
      [
        SCRIPT,
        NODE,
        "-e",
        `const ignored = BigInt("0x" + /SigIgn:\\s*(\\w+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]);
         process.stdout.write(JSON.stringify({ stdin: require("fs").readFileSync(0, "utf8"), int: (ignored >> 1n) & 1n, quit: (ignored >> 2n) & 1n }, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));`,
      ],
      { encoding: "utf8", env, input: "y\n", timeout: 30_000 },
    );
    expect(JSON.parse(r.stdout)).toEqual({ stdin: "y\n", int: 0, quit: 0 });
  });

  it("gives the command a TMPDIR of its own (a tmpfs, 0700) and umask 077; after the run, or a kill -9, only the empty mount point is left", async () => {
    const shared = path.join(dir, "shared-tmp");
    fs.mkdirSync(shared, { recursive: true });
    fs.chmodSync(shared, 0o1777);
    const report = path.join(dir, "tmp-report");
    const probe = `const fs = require("fs"); const t = process.env.TMPDIR;
      fs.writeFileSync(t + "/engine.log", "a key");
      const mount = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\\n").find((l) => l.split(" ")[4] === t) || "";
      fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({ t, mount, mode: fs.statSync(t).mode & 0o777, umask: process.umask() }));`;
    const done = isolated(probe, { TMPDIR: shared, FETCHML_KEYS_ISOLATION: "off" });
    expect(done.status, done.stderr).toBe(0);
    const inside = JSON.parse(fs.readFileSync(report, "utf8"));
    const mountPoint = path.join(shared, `fetchml-keys-run-${process.getuid!()}`);
    expect(inside.t).toBe(mountPoint);
    expect(inside.mount).toMatch(/ - tmpfs /);
    expect([inside.mode, inside.umask]).toEqual([0o700, 0o077]);
    const onlyTheMountPoint = () => {
      expect(fs.readdirSync(shared)).toEqual([path.basename(mountPoint)]);
      expect(fs.readdirSync(mountPoint)).toEqual([]);
      expect(fs.statSync(mountPoint).mode & 0o777).toBe(0o700);
    };
    onlyTheMountPoint();

    const child = spawn("sh", [SCRIPT, NODE, "-e", `${probe} setInterval(() => {}, 1000);`], {
      env: { ...env, TMPDIR: shared, FETCHML_KEYS_ISOLATION: "off" },
      stdio: "ignore",
    });
    fs.rmSync(report);
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(report) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The file was on the run's tmpfs only, gone with it.
    onlyTheMountPoint();
  });

  it("does not use a mount point another account made first: a fresh directory instead, removed after the run", () => {
    const shared = path.join(dir, "taken-tmp");
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    const taken = path.join(shared, `fetchml-keys-run-${process.getuid!()}`);
    fs.mkdirSync(taken, { mode: 0o777 });
    fs.chownSync(taken, 65534, 65534);
    const r = isolated(`console.log(process.env.TMPDIR)`, { TMPDIR: shared, FETCHML_KEYS_ISOLATION: "off" });
    expect(r.status, r.stderr).toBe(0);
    expect(path.dirname(r.stdout.trim())).toBe(shared);
    expect(r.stdout.trim()).not.toBe(taken);
    expect(fs.readdirSync(shared)).toEqual([path.basename(taken)]);
    expect(fs.readdirSync(taken)).toEqual([]);
  });

  it("passes TERM on to the command", async () => {
    const marker = path.join(dir, "term");
    const child = spawn(
      "sh",
      [
        SCRIPT,
        NODE,
        "-e",
        `process.on("SIGTERM", () => { require("fs").writeFileSync(${JSON.stringify(marker)}, "TERM"); process.exit(3); }); setInterval(() => {}, 1000);`,
      ],
      { env, stdio: "ignore" },
    );
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGTERM");
    const code = await new Promise((r) => child.on("exit", (c) => r(c)));
    expect(fs.readFileSync(marker, "utf8")).toBe("TERM");
    expect(code).toBe(3);
  });

  it("says once, in one line, what is exposed when the run's network cannot be isolated, and runs the command", () => {
    const r = isolated(`console.log(process.env.FETCHML_KEYS_ISOLATED)`, { FETCHML_KEYS_ISOLATION: "off" });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("0");
    expect(r.stderr.trim().split("\n")).toEqual([
      "fetchml-keys: not isolated: FETCHML_KEYS_ISOLATION=off; other local users can connect to the engine's and plugins' unauthenticated gRPC ports during this run (read the keys, run commands as you)",
    ]);
  });

  // Before: pasta (`-T auto`) holds a descriptor per port listening on the host's loopback, and
  // ran out when another account bound more ports than its limit allowed; the run then went on
  // unisolated, its gRPC ports open to that account. Played at a small scale: a limit of 256 for
  // the admin's shell, 400 ports bound by uid 65534. Root raises pasta's limit where the kernel
  // lets it (then the run is isolated); where it cannot (this machine's root may not raise a
  // hard limit), nothing runs. Never the command without its network namespace.
  it("another account binding many loopback ports never makes the run go on unisolated", async () => {
    const [python, ...pythonArgs] = PYTHON_AS_NOBODY;
    const binder = spawn(
      python,
      [
        ...pythonArgs,
        "-c",
        `import socket, sys, time
held = []
while len(held) < 400:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    held.append(s)
print("bound", flush=True)
time.sleep(60)`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        binder.stdout!.on("data", (d) => String(d).includes("bound") && resolve());
        binder.on("exit", (code) => reject(new Error(`the binder exited ${code}`)));
      });
      const ran = path.join(dir, "ran-with-ports-bound");
      const r = spawnSync(
        "sh",
        [
          "-c",
          'ulimit -n 256 && exec sh "$0" "$@"',
          SCRIPT,
          NODE,
          "-e",
          `require("fs").writeFileSync(${JSON.stringify(ran)}, process.env.FETCHML_KEYS_ISOLATED)`,
        ],
        { encoding: "utf8", env, timeout: 60_000 },
      );
      if (r.status === 0) expect([fs.readFileSync(ran, "utf8"), r.stderr]).toEqual(["1", ""]);
      else {
        expect(fs.existsSync(ran), `ran: ${r.stderr}`).toBe(false);
        expect([r.status, r.stderr]).toEqual([
          1,
          expect.stringMatching(/^fetchml-keys: refused: pasta could not connect the run's network namespace \(.*Too many open files\)/),
        ]);
      }
    } finally {
      binder.kill("SIGKILL");
    }
  });

  it("refuses, running nothing, when pasta fails where it should work (another account may be the cause)", () => {
    const fakes = path.join(dir, "failing-pasta");
    fs.mkdirSync(fakes, { recursive: true });
    fs.writeFileSync(path.join(fakes, "pasta"), "#!/bin/sh\necho 'pasta: Failed to bind port: Too many open files' >&2\nexit 1\n", {
      mode: 0o755,
    });
    const ran = path.join(dir, "ran");
    const r = isolated(`require("fs").writeFileSync(${JSON.stringify(ran)}, "ran")`, { PATH: `${fakes}:${process.env.PATH}` });
    expect(r.status).toBe(1);
    expect(fs.existsSync(ran), "the command ran").toBe(false);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^fetchml-keys: refused: pasta could not connect the run's network namespace \(pasta: Failed to bind port: Too many open files\), .*nothing was run\. If many ports are listening on this host's loopback/,
      ),
    ]);
    expect(r.stderr).not.toMatch(/FETCHML_KEYS_ISOLATION/);
  });

  // Nothing another account can cause: said in one line, and the command runs with its PID
  // namespace only (pasta itself would fail, and a failing pasta refuses the run).
  it.each([
    {
      host: "a host whose only interface is loopback",
      enter: ["--net", "sh", "-c", 'ip link set lo up && exec sh "$0" "$@"'],
      reason: "no network interface with a default route other than loopback (pasta starts from one)",
    },
    {
      host: "a container without /dev/net/tun",
      enter: ["--mount", "sh", "-c", 'mount -t tmpfs tmpfs /dev/net && exec sh "$0" "$@"'],
      reason: "/dev/net/tun does not exist here (pasta needs it)",
    },
  ])("says so and runs the command on $host", ({ enter, reason }) => {
    const r = spawnSync("unshare", [...enter, SCRIPT, NODE, "-e", "console.log(process.env.FETCHML_KEYS_ISOLATED)"], {
      encoding: "utf8",
      env,
      timeout: 30_000,
    });
    expect([r.status, r.stdout.trim()]).toEqual([0, "0"]);
    expect(r.stderr.trim().split("\n")).toEqual([
      `fetchml-keys: not isolated: ${reason}; other local users can connect to the engine's and plugins' unauthenticated gRPC ports during this run (read the keys, run commands as you)`,
    ]);
  });

  it("runs an ordinary user's command as that user (isolated, or saying why not in one line)", () => {
    const r = spawnSync(
      AS_NOBODY[0],
      [...AS_NOBODY.slice(1), "sh", SCRIPT, NODE, "-e", `console.log(process.getuid(), process.env.FETCHML_KEYS_ISOLATED)`],
      { encoding: "utf8", env: { ...env, HOME: "/" }, cwd: "/", timeout: 30_000 },
    );
    expect(r.status).toBe(0);
    const [uid, mark] = r.stdout.trim().split(" ");
    expect(uid).toBe(String(NOBODY));
    const tunOpen = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), "test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun"]).status === 0;
    if (tunOpen) expect([mark, r.stderr]).toEqual(["1", ""]);
    else
      expect([mark, r.stderr.trim()]).toEqual([
        "0",
        expect.stringMatching(
          /^fetchml-keys: not isolated: \/dev\/net\/tun is not open to nobody \(pasta needs it\); other local users can connect/,
        ),
      ]);
  });
});
