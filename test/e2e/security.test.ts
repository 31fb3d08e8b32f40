/**
 * No other local user can reach the vault or a key during a run. An unprivileged account
 * (uid 65534, through `setpriv`) tries what an attacker on the admin's machine would, on
 * loopback only; the real engine, the real `bw` against the project's test server, a real sshd.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/paths";
import { DEV_PASSPHRASE } from "../../config/exposure";
import { expectedHash } from "../support/oracle";
import { openSshTarget } from "../../targets/ssh";
import { BW_DEFAULT } from "../support/bitwarden/bwCli";
import { startVault, type TestVault } from "../support/bitwarden/vault";
import { E2EStack } from "../support/e2eStack";
import { findProcesses, killUpWhen } from "../support/processWatch";
import { keyPairInMemory, privateSeedLine, TestSshd } from "../support/sshd";
import { AS_NOBODY, NOBODY } from "../support/nobody";

const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
const BASE = `auth:\n  enabled: true\n  api_keys: {}\nlogging:\n  level: info\n`;

/** Runs a Node script as uid 65534 and returns what it printed. */
function asNobody(script: string): string {
  const r = spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), NODE, "-e", script], {
    encoding: "utf8",
    timeout: 10_000,
  });
  return (r.stdout + r.stderr).trim();
}

/** TCP sockets a process listens on (inodes of its fds found in /proc/net/tcp* in state LISTEN). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`, { withFileTypes: true })) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd.name}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of fs.readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

let vault: TestVault;
let e2e: E2EStack;
let serverFile: string;
let users: Record<string, Record<string, unknown>>;
let wrapperEnvFile: string;
let wrapper: string;
const config = (extra: Record<string, unknown> = {}) => ({
  authConfigPath: serverFile,
  reloadCommand: `env > ${path.join(e2e.dir, "reload.env")}`,
  bitwarden: { organizationId: vault.org.id, collectionIds: [vault.org.collections.FetchML], cli: wrapper },
  users,
  ...extra,
});

beforeAll(async () => {
  vault = await startVault();
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "api.yaml");
  fs.writeFileSync(serverFile, BASE, { mode: 0o600 });
  // The admin's own bw: a wrapper that neither execs nor lets itself be stopped by INT or
  // TERM, and notes the environment it was given.
  wrapperEnvFile = path.join(e2e.dir, "bw.env");
  wrapper = path.join(e2e.dir, "my-bw");
  fs.writeFileSync(wrapper, `#!/bin/sh\ntrap "" INT TERM\nenv >> ${wrapperEnvFile}\n${NODE} ${BW_DEFAULT} "$@"\n`, { mode: 0o755 });
  for (const [name, value] of Object.entries({ ...vault.env, BW_PASSWORD: "the-master-password-itself" })) e2e.setProgramEnv(name, value);
  users = { alice: { role: "admin", delivery: "bitwarden" }, bob: { role: "researcher" } };
  e2e.setConfig(config());
  await e2e.up();
}, 300_000);

afterAll(async () => {
  for (const name of [...Object.keys(vault?.env ?? {}), "BW_PASSWORD"]) e2e?.setProgramEnv(name, undefined);
  await e2e?.cleanup();
  await vault?.stop();
});

describe("another local user, during a run", () => {
  it("cannot connect to bw serve: it listens on no port, only on a socket in a directory closed to others", async () => {
    users.alice = { role: "admin", delivery: "bitwarden", rotation: 1 };
    e2e.setConfig(config());
    const running = e2e.up();
    const seen: string[] = [];
    let ports: number[] | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && seen.length === 0) {
      for (const pid of findProcesses((c) => c.includes(" serve --hostname unix://"))) {
        const socket = /unix:\/\/(\S+)/.exec(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "))![1];
        if (!fs.existsSync(socket)) continue;
        ports = listeningPorts(pid);
        seen.push(
          asNobody(
            `require("net").connect(${JSON.stringify(socket)}).on("connect", () => { console.log("CONNECTED"); process.exit(0); }).on("error", (e) => console.log(e.code))`,
          ),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await running;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toBe("EACCES");
    expect(ports).toEqual([]);
  });

  it("finds no bw serve left running after the run, even behind a wrapper that ignores INT and TERM", async () => {
    const serves = [...e2e.watch.lastRun].filter((l) => l.includes(" serve --hostname")).map((l) => Number(l.split(" ")[0]));
    expect(serves.length).toBeGreaterThan(0);
    for (const pid of serves) expect(fs.existsSync(`/proc/${pid}`), `bw serve ${pid} still running`).toBe(false);
  });

  it("finds none of the run's secrets in the environment of the reload command or of the admin's bw", async () => {
    const reloadEnv = fs.readFileSync(path.join(e2e.dir, "reload.env"), "utf8");
    const bwEnv = fs.readFileSync(wrapperEnvFile, "utf8");
    const passphrase = e2e.env.PULUMI_CONFIG_PASSPHRASE;
    expect(
      reloadEnv.includes(passphrase) || reloadEnv.includes(vault.env.BW_SESSION) || reloadEnv.includes("the-master-password-itself"),
    ).toBe(false);
    expect(bwEnv.includes(passphrase) || bwEnv.includes("the-master-password-itself")).toBe(false);
    expect(bwEnv.includes(vault.env.BW_SESSION)).toBe(true); // the one secret bw needs
  });

  it("cannot read what a revoked key's hash was: no backup of the file keeps it", async () => {
    const bob = expectedHash((await e2e.outputs()).apiKeys.bob);
    delete users.bob;
    e2e.setConfig(config());
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", "1");
    await e2e.up();
    e2e.setProgramEnv("FETCHML_KEYS_ALLOW_MASS_REVOCATION", undefined);
    for (const name of fs.readdirSync(e2e.dir)) {
      const file = path.join(e2e.dir, name);
      if (fs.statSync(file).isFile()) expect(fs.readFileSync(file, "utf8").includes(bob), name).toBe(false);
    }
  });

  it("cannot have keys written into a delivery directory it prepared: the preview refuses, nothing is written", async () => {
    const trap = path.join(e2e.dir, "handover");
    fs.mkdirSync(trap, { mode: 0o700 });
    fs.writeFileSync(path.join(trap, "bob.toml"), "");
    fs.chownSync(path.join(trap, "bob.toml"), NOBODY, NOBODY);
    fs.chownSync(trap, NOBODY, NOBODY);
    users.bob = { role: "researcher" };
    e2e.setConfig(config({ deliveryDir: trap }));
    const lines = await e2e.summary();
    expect(lines.refused).toContain(`deliveryDir: "${trap}" belongs to uid ${NOBODY}, not to this user`);
    await expect(e2e.up()).rejects.toThrow();
    expect(fs.readFileSync(path.join(trap, "bob.toml"), "utf8")).toBe("");
    e2e.setConfig(config());
  });
});

describe("the passphrase", () => {
  it("of the demo stack is refused on another stack when it comes from PULUMI_CONFIG_PASSPHRASE_FILE too", async () => {
    const file = path.join(e2e.dir, "passphrase");
    fs.writeFileSync(file, `${DEV_PASSPHRASE}\n`, { mode: 0o600 });
    const other = await E2EStack.create(
      { authConfigPath: path.join(e2e.dir, "other.yaml"), users: { eve: { role: "admin" } } },
      { passphraseFile: file },
    );
    try {
      other.setProgramEnv("PULUMI_CONFIG_PASSPHRASE_FILE", file);
      const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
      delete process.env.PULUMI_CONFIG_PASSPHRASE;
      const lines = await other.summary().finally(() => {
        if (saved !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved;
      });
      expect(lines.refused).toContain(`stack ${other.name}: encrypted with the public demo passphrase`);
    } finally {
      other.setProgramEnv("PULUMI_CONFIG_PASSPHRASE_FILE", undefined);
      await other.cleanup();
    }
  });
});

describe("the SSH deploy key", () => {
  let sshd: TestSshd;
  let ssh: E2EStack;
  let key: string;
  let privateKey: string;
  let remoteFile: string;
  beforeAll(async () => {
    const pair = keyPairInMemory("deploy");
    key = privateSeedLine(pair.privateKey);
    privateKey = pair.privateKey;
    sshd = await TestSshd.start(pair.publicKey);
    remoteFile = path.join(sshd.dir, "api.yaml");
    fs.writeFileSync(remoteFile, `# ${"-".repeat(100)}\n`.repeat(40_000) + BASE, { mode: 0o600 });
    ssh = await E2EStack.create({});
    const server = sshd.server(ssh.encryptSecret(pair.privateKey), { configPath: remoteFile });
    ssh.setConfig({ servers: [server], users: { alice: { role: "admin" } } });
    await ssh.up();
    ssh.setConfig({ servers: [server], users: { alice: { role: "admin", rotation: 1 } } });
  }, 120_000);
  afterAll(async () => {
    await ssh?.cleanup();
    await sshd?.stop();
  });

  it("is never written to disk, and a run killed mid-write leaves no trace of it", async () => {
    // The run's own temp directory (the program here, the engine, its plugins and steps
    // there): what this run wrote is then there, in the project and in the state, and a scan
    // of those never reads what anything else on the machine holds.
    const runTmp = fs.mkdtempSync(path.join(ssh.dir, "tmp-"));
    ssh.setProgramEnv("TMPDIR", runTmp);
    const running = ssh.up().then(
      () => "finished",
      () => "failed",
    );
    try {
      const killed = await killUpWhen(ssh.name, () => findProcesses((c) => /auth-write/.test(c)).length > 0, 5);
      expect(killed).toBeGreaterThan(0);
      await running;
    } finally {
      ssh.setProgramEnv("TMPDIR", undefined);
    }
    const holding = (roots: string[]) => {
      const found: string[] = [];
      const scan = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory() && !["node_modules", ".git"].includes(entry.name)) scan(full);
          else if (entry.isFile() && fs.statSync(full).size < 50_000_000 && fs.readFileSync(full, "utf8").includes(key)) found.push(full);
        }
      };
      for (const root of roots) scan(root);
      return found;
    };
    // This run's temp dir, its state (both in ssh.dir), the server's side and the project.
    const roots = [ssh.dir, sshd.dir, PROJECT_ROOT];
    // The scan itself finds a copy where one is.
    const planted = path.join(runTmp, "planted");
    fs.writeFileSync(planted, `...${key}...`);
    expect(holding(roots)).toEqual([planted]);
    fs.rmSync(planted);
    expect(holding(roots)).toEqual([]);
    expect([...ssh.watch.commandLines].filter((l) => /(^|\/)ssh(-agent|-add)? /.test(l))).toEqual([]);
    await ssh.cancel();
  });

  it("keeps an admin's edit made between a step's read and its replace: nothing is replaced", async () => {
    const io = await openSshTarget({ kind: "ssh", ...sshd.server(privateKey, { configPath: remoteFile }) });
    try {
      const read = await io.read();
      fs.appendFileSync(remoteFile, "# the admin's edit\n");
      const inode = fs.statSync(remoteFile).ino;
      expect(await io.writeConfig(`${read.config}# merged from a stale read\n`, read.config)).toBe("changed-meanwhile");
      expect(fs.readFileSync(remoteFile, "utf8").endsWith("# the admin's edit\n")).toBe(true);
      // With the current content it replaces the file, by rename: a new inode.
      const now = fs.readFileSync(remoteFile, "utf8");
      expect(await io.writeConfig(`${now}# merged again\n`, now)).toBe("written");
      expect(fs.statSync(remoteFile).ino).not.toBe(inode);
      expect(fs.readFileSync(remoteFile, "utf8").endsWith("# the admin's edit\n# merged again\n")).toBe(true);
    } finally {
      await io.close();
    }
  });
});
