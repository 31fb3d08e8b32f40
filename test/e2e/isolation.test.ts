/**
 * A run no other local account can reach, and that leaves nothing running when killed
 * (README, "Security notes"). The runner is a separate process, as an admin starts it
 * (bin/fetchml-keys); its stack has a direct user on a local file and on a FetchML server over
 * SSH (a real sshd on the host's loopback) and a Bitwarden user (the Bitwarden test server on
 * the host's loopback, the real `bw`). While a preview and an up run, every TCP port and Unix
 * socket held by a process of the run is found from /proc (the socket inodes of its fds, looked
 * up in the tables of the network namespace the process is in), and uid 65534 tries to connect
 * to each, from the host: every attempt must fail. The same ports tried from inside the run's
 * namespace (where uid 65534 cannot get: it may not enter) answer, which shows the scan found
 * live ports. Then kill -9 of the runner, and of its process group, mid-up: after 5 s no process
 * of the run is left. And the offline plugins end when the engine that started them is killed.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { E2EStack } from "../support/e2eStack";
import { descendants } from "../support/processWatch";
import { runRunner } from "../support/runner";
import { AS_NOBODY, PYTHON_AS_NOBODY } from "../support/nobody";
import { expectSameSecret } from "../support/secrets";
import { generateKeyPair, TestSshd } from "../support/sshd";

const BASE = `auth:\n  enabled: true\n  api_keys: {}\n`;

/** Tries each endpoint (host:port, a socket path, or @abstract) and prints one result per line. */
const ATTACK = `
import json, socket, sys
for kind, addr in json.loads(sys.argv[1]):
    try:
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(2)
            s.connect("\\0" + addr[1:] if addr.startswith("@") else addr)
        else:
            host, port = addr.rsplit(":", 1)
            s = socket.create_connection((host.strip("[]"), int(port)), 2)
        s.close()
        print("CONNECTED")
    except OSError as e:
        print(type(e).__name__ + ": " + str(e))
`;

interface Endpoint {
  kind: "tcp" | "unix";
  address: string;
  /** Inode of the network namespace the socket lives in. */
  netns: string;
  /** A process of the run in that namespace (to enter it). */
  pid: number;
  command: string;
}

const HOST_NETNS = fs.readlinkSync("/proc/self/ns/net");
const readlink = (p: string) => {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
};
const read = (p: string) => {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return "";
  }
};

/** "0100007F:1F90" (v4) or 32 hex digits:port (v6), as /proc/net/tcp* write them. */
function decodeAddress(hex: string): string {
  const [ip, port] = hex.split(":");
  const words = ip.match(/.{8}/g)!.map((w) => Buffer.from(w, "hex").reverse());
  const bytes = Buffer.concat(words);
  const any = bytes.every((b) => b === 0);
  if (bytes.length === 4) return `${any ? "127.0.0.1" : [...bytes].join(".")}:${parseInt(port, 16)}`;
  const v6 = any ? "::1" : (bytes.toString("hex").match(/.{4}/g)!.join(":") as string);
  return `[${v6}]:${parseInt(port, 16)}`;
}

/** Listening sockets (inode -> address) in the network namespace `pid` is in. */
function listeningIn(pid: number): Map<string, Omit<Endpoint, "netns" | "pid" | "command">> {
  const out = new Map<string, Omit<Endpoint, "netns" | "pid" | "command">>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of read(`/proc/${pid}/net/${table}`).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A") out.set(f[9], { kind: "tcp", address: decodeAddress(f[1]) });
    }
  }
  for (const line of read(`/proc/${pid}/net/unix`).split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Flags 00010000: accepting connections; f[7] is the path (absent for an unnamed socket).
    if (f[3] === "00010000" && f[7]) out.set(f[6], { kind: "unix", address: f[7] });
  }
  return out;
}

/** The inodes of the sockets a process holds now (none once it is gone). */
function socketInodes(pid: number): string[] {
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  return fds.map((fd) => /^socket:\[(\d+)\]$/.exec(readlink(`/proc/${pid}/fd/${fd}`) ?? "")?.[1]).filter((i): i is string => !!i);
}

/** Every listening socket a process of the run (root and its descendants) holds now. */
function scanRun(root: number): Endpoint[] {
  const pids = [root, ...descendants(root)];
  const tables = new Map<string, ReturnType<typeof listeningIn>>();
  const found: Endpoint[] = [];
  for (const pid of pids) {
    const netns = readlink(`/proc/${pid}/ns/net`);
    const command = read(`/proc/${pid}/cmdline`).replace(/\0/g, " ").trim();
    if (!netns || !command) continue;
    if (!tables.has(netns)) tables.set(netns, listeningIn(pid));
    for (const inode of socketInodes(pid)) {
      // The socket may live in another namespace than its process (pasta's do): look in all.
      for (const [ns, table] of tables) {
        const socket = table.get(inode);
        if (socket) found.push({ ...socket, netns: ns, pid, command });
      }
    }
  }
  return found;
}

/**
 * Ports listening in the host's own network namespace on sockets no process of the run holds
 * (the test's sshd and vault, other users' services): a connection to one of them says nothing
 * about the run.
 */
function foreignHostPorts(root: number): Set<string> {
  const runInodes = new Set([root, ...descendants(root)].flatMap(socketInodes));
  const out = new Set<string>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of read(`/proc/self/net/${table}`).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && !runInodes.has(f[9])) out.add(String(parseInt(f[1].split(":")[1], 16)));
    }
  }
  return out;
}

function attack(targets: Array<[string, string]>, enter?: number): string[] {
  if (targets.length === 0) return [];
  const prefix = enter ? ["nsenter", `--net=/proc/${enter}/ns/net`] : [];
  const [cmd, ...args] = [...prefix, ...PYTHON_AS_NOBODY, "-c", ATTACK, JSON.stringify(targets)];
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return (r.stdout + r.stderr).trim().split("\n");
}

interface Watched {
  code: number | null;
  output: string;
  /** Every attempt from the host, as uid 65534: endpoint and what happened. */
  fromHost: Array<{ endpoint: Endpoint; result: string }>;
  /** The same endpoints tried from inside the run's namespace (not possible for uid 65534 itself). */
  fromInside: string[];
  /** uid 65534 trying to enter the run's network namespace. */
  enter: string[];
}

/** Runs the runner, trying every listening socket of the run as it appears. */
async function watchedRun(args: string[], env: Record<string, string>): Promise<Watched> {
  let root = 0;
  const running = runRunner(args, { env, onStart: (pid) => (root = pid) });
  let done = false;
  void running.finally(() => (done = true));
  const watched: Watched = { code: null, output: "", fromHost: [], fromInside: [], enter: [] };
  const tried = new Set<string>();
  while (!done) {
    if (root) {
      const fresh = scanRun(root).filter((e) => !tried.has(`${e.netns} ${e.kind} ${e.address}`));
      for (const e of fresh) tried.add(`${e.netns} ${e.kind} ${e.address}`);
      // pasta's sockets inside the run's namespace forward to the host's own listening ports
      // (the test's sshd, the vault...): those are the host's services, not the run's.
      const own = fresh.filter((e) => !/^pasta /.test(e.command));
      const foreign = foreignHostPorts(root);
      const targets = own.filter((e) => e.kind === "unix" || !foreign.has(e.address.split(":").at(-1)!));
      const results = attack(targets.map((e) => [e.kind, e.address]));
      targets.forEach((endpoint, i) => watched.fromHost.push({ endpoint, result: results[i] ?? "" }));
      for (const list of groupBy(
        own.filter((e) => e.kind === "tcp" && e.netns !== HOST_NETNS),
        (e) => e.netns,
      ).values()) {
        watched.fromInside.push(
          ...attack(
            list.map((e) => [e.kind, e.address]),
            list[0].pid,
          ),
        );
        if (watched.enter.length === 0) {
          const r = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), "nsenter", `--net=/proc/${list[0].pid}/ns/net`, "true"], {
            encoding: "utf8",
          });
          watched.enter.push(`${r.status}: ${r.stderr.trim()}`);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const r = await running;
  watched.code = r.code;
  watched.output = r.all;
  return watched;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let vault: TestVault;
let sshd: TestSshd;
let e2e: E2EStack;
let localFile: string;
let remoteFile: string;
let env: Record<string, string>;
let privateKey: { secure: string };
const users: Record<string, Record<string, unknown>> = {
  alice: { role: "admin" },
  bob: { role: "researcher", delivery: "bitwarden" },
};
const config = () => ({
  authConfigPath: localFile,
  servers: [sshd.server(privateKey, { name: "gpu-box", configPath: remoteFile })],
  bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML] },
  users,
});

beforeAll(async () => {
  vault = await startVault();
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "isolation-key-"));
  const keys = generateKeyPair(keyDir, "admin");
  fs.rmSync(keyDir, { recursive: true, force: true });
  sshd = await TestSshd.start(keys.publicKey);
  e2e = await E2EStack.create({});
  localFile = path.join(e2e.dir, "api.yaml");
  remoteFile = path.join(sshd.dir, "api.yaml");
  fs.writeFileSync(localFile, BASE, { mode: 0o600 });
  fs.writeFileSync(remoteFile, BASE, { mode: 0o600 });
  privateKey = e2e.encryptSecret(keys.privateKey);
  e2e.setConfig(config());
  const tmp = path.join(e2e.dir, "tmp");
  fs.mkdirSync(tmp, { mode: 0o700 });
  env = { ...e2e.env, ...vault.env, TMPDIR: tmp, PULUMI_HOME: path.join(e2e.dir, "pulumi-home") };
}, 300_000);

afterAll(async () => {
  await e2e?.cleanup();
  await sshd?.stop();
  await vault?.stop();
});

function expectNoneReached(w: Watched) {
  const reached = w.fromHost
    .filter((a) => a.result === "CONNECTED")
    .map((a) => `${a.endpoint.kind} ${a.endpoint.address} (${a.endpoint.command})`);
  expect(reached, "endpoints of the run that uid 65534 reached from the host").toEqual([]);
  for (const a of w.fromHost) expect(a.result).toMatch(/^(ConnectionRefusedError|PermissionError|FileNotFoundError|TimeoutError|OSError)/);
}

describe("another local user, during a run of the runner", () => {
  it("reaches none of the ports and sockets of a preview (local file, SSH server, Bitwarden user), which answer inside the run", async () => {
    const w = await watchedRun(["preview", "--stack", e2e.name], env);
    expect(w.code, w.output).toBe(0);
    expect(w.output).not.toMatch(/not isolated/);
    expect(w.fromHost.some((a) => a.endpoint.kind === "tcp")).toBe(true); // the scan found the engine's ports
    expectNoneReached(w);
    expect(w.fromInside).toContain("CONNECTED"); // live ports: only the namespace keeps uid 65534 out
    expect(w.enter.length).toBeGreaterThan(0);
    for (const e of w.enter) expect(e).toMatch(/^1: nsenter: .*(Permission denied|Operation not permitted)/);
  }, 300_000);

  it("reaches none of the ports and sockets of an up that writes both targets and the vault (bw serve included)", async () => {
    const w = await watchedRun(["up", "--yes", "--stack", e2e.name], env);
    expect(w.code, w.output).toBe(0);
    expect(w.fromHost.some((a) => a.endpoint.kind === "tcp")).toBe(true);
    expect(w.fromHost.some((a) => a.endpoint.kind === "unix" && a.endpoint.command.includes(" serve --hostname"))).toBe(true);
    expectNoneReached(w);
    expect(w.fromInside).toContain("CONNECTED");

    // The run did its work through the isolation: both targets and the vault hold the keys.
    const keys = (await e2e.outputs()).apiKeys as Record<string, string>;
    for (const file of [localFile, remoteFile]) {
      const entries = parse(fs.readFileSync(file, "utf8")).auth.api_keys;
      expectSameSecret(entries.alice.hash, sha256(keys.alice), `alice's entry in ${file}`);
      expectSameSecret(entries.bob.hash, sha256(keys.bob), `bob's entry in ${file}`);
    }
    const items = [...vault.server.ciphers.keys()].map((id) => vault.server.decryptCipher(id));
    const bobItem = items.find((i) => i.name === "FetchML API bob");
    expect(bobItem).toBeDefined();
    expectSameSecret(bobItem!.password ?? "", keys.bob, "bob's vault item");
  }, 300_000);
});

/** Starts an up that changes every key, waits until plugins and steps run, and returns the run's processes then. */
async function upUntilPluginsRun(rotation: number): Promise<{ root: number; seen: number[]; running: Promise<unknown> }> {
  users.alice = { role: "admin", rotation };
  users.bob = { role: "researcher", delivery: "bitwarden", rotation };
  e2e.setConfig(config());
  let root = 0;
  const running = runRunner(["up", "--yes", "--stack", e2e.name], { env, onStart: (pid) => (root = pid) });
  const deadline = Date.now() + 120_000;
  const command = (pid: number) => read(`/proc/${pid}/cmdline`).replace(/\0/g, " ");
  for (;;) {
    const seen = root ? descendants(root) : [];
    const plugins = seen.filter((p) => /pulumi-resource-|plugins\/(random|command)\/main\.js/.test(command(p)));
    if (plugins.length >= 2) return { root, seen: [root, ...seen], running };
    if (Date.now() > deadline) throw new Error(`no plugins seen under the runner ${root}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function expectAllGone(pids: number[], what: string) {
  await new Promise((r) => setTimeout(r, 5000));
  const alive = pids.filter((p) => fs.existsSync(`/proc/${p}`) && !/\) Z /.test(read(`/proc/${p}/stat`)));
  expect(
    alive.map((p) => `${p} ${read(`/proc/${p}/cmdline`).replace(/\0/g, " ")}`),
    `processes of the run alive 5 s after ${what}`,
  ).toEqual([]);
}

describe("a killed run", () => {
  afterAll(async () => {
    await e2e.cancel(); // the killed ups left the stack locked
  });

  it("kill -9 of the runner alone: after 5 s nothing it started is running, plugins included", async () => {
    const { root, seen, running } = await upUntilPluginsRun(1);
    process.kill(root, "SIGKILL");
    await running;
    await expectAllGone(seen, "kill -9 of the runner");
  }, 300_000);

  it("kill -9 of the runner's process group: after 5 s nothing it started is running", async () => {
    await e2e.cancel();
    const { root, seen, running } = await upUntilPluginsRun(2);
    process.kill(-root, "SIGKILL");
    await running;
    await expectAllGone(seen, "kill -9 of the process group");
  }, 300_000);
});

describe("plain pulumi, without the isolation", () => {
  it("the offline plugins exit when the engine that started them is killed", async () => {
    const pluginsPath = ["language-nodejs", "random", "command"].map((p) => path.join(PROJECT_ROOT, "plugins", p, "bin"));
    const engine = spawn(e2e.engineBinary, ["preview", "--stack", e2e.name, "--non-interactive"], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        ...env,
        PATH: [...pluginsPath, path.join(PROJECT_ROOT, "node_modules", ".bin"), process.env.PATH].join(path.delimiter),
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      },
      stdio: "ignore",
    });
    const exited = new Promise((r) => engine.on("exit", r));
    const deadline = Date.now() + 120_000;
    let plugins: number[] = [];
    const providers = () => plugins.filter((p) => /plugins\/(random|command)\/main\.js/.test(read(`/proc/${p}/cmdline`)));
    while (Date.now() < deadline) {
      plugins = descendants(engine.pid!).filter((p) =>
        /plugins\/(random|command|language-nodejs)\/main\.js/.test(read(`/proc/${p}/cmdline`)),
      );
      if (providers().length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(providers().length).toBeGreaterThan(0); // a resource provider, not only the language host
    engine.kill("SIGKILL"); // the engine only: its plugins run in process groups of their own
    await exited;
    await expectAllGone(plugins, "kill -9 of the engine");
  }, 300_000);
});
