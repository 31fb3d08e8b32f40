/**
 * A real OpenSSH server for tests: Debian's sshd on a loopback port with a generated host
 * key, accepting one generated user key for the current user. Run by an unprivileged user
 * it serves only that user; run by root it needs /run/sshd, which start() creates.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./freePort";

export const SSHD = "/usr/sbin/sshd";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export function generateKeyPair(dir: string, name: string): KeyPair {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file], { stdio: "ignore" });
  return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

/**
 * The line of an unencrypted ed25519 OpenSSH private key that holds its secret seed: what
 * to search files and output for. Not the first body line: that is the format's header,
 * the same in every such key on the machine (other runs' sshd host keys included).
 */
export function privateSeedLine(privateKey: string): string {
  const body = privateKey.trim().split("\n").slice(1, -1);
  if (body.length < 4 || !body[3].startsWith("AAAE")) throw new Error("not an unencrypted ed25519 OpenSSH private key");
  return body[3];
}

/** A key pair held only in memory: the files ssh-keygen writes are removed at once. */
export function keyPairInMemory(name: string): KeyPair {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-key-"));
  try {
    return generateKeyPair(dir, name);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class TestSshd {
  readonly user = os.userInfo().username;
  hostKey = "";
  port = 0;
  private child: ChildProcess | undefined;

  constructor(
    readonly dir: string,
    readonly authorizedKey: string,
    /** More sshd_config lines (`SetEnv PATH=...`, as a server's /etc/environment would give). */
    readonly extraConfig: readonly string[] = [],
  ) {}

  static async start(authorizedKey: string, extraConfig: readonly string[] = []): Promise<TestSshd> {
    if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: install Debian's openssh-server (.ci/run does)`);
    const sshd = new TestSshd(fs.mkdtempSync(path.join(os.tmpdir(), "sshd-")), authorizedKey, extraConfig);
    sshd.hostKey = generateKeyPair(sshd.dir, "ssh_host_ed25519_key").publicKey;
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), `${authorizedKey}\n`, { mode: 0o600 });
    sshd.port = await freePort();
    if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    await sshd.resume();
    return sshd;
  }

  private writeConfig(): string {
    const config = path.join(this.dir, "sshd_config");
    fs.writeFileSync(
      config,
      [
        `Port ${this.port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(this.dir, "ssh_host_ed25519_key")}`,
        `PidFile ${path.join(this.dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(this.dir, "authorized_keys")}`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "LogLevel ERROR",
        ...this.extraConfig,
      ].join("\n") + "\n",
    );
    return config;
  }

  /**
   * This server as an entry of stack config's `servers` (or, with `kind: "ssh"` added, a
   * target spec): name "box" unless given, the deploy key as the caller passes it (usually
   * encrypted by E2EStack.encryptSecret), the host key pinned.
   */
  server<Key, Fields extends { name?: string; configPath?: string; reloadCommand?: string } = Record<never, never>>(
    privateKey: Key,
    fields: Fields = {} as Fields,
  ) {
    return { name: "box", host: "127.0.0.1", port: this.port, user: this.user, privateKey, hostKey: this.hostKey, ...fields };
  }

  /** (Re)starts on the same port with the same host key. */
  async resume(): Promise<void> {
    const config = this.writeConfig();
    this.child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    this.child.stderr!.on("data", (b) => (stderr += b));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.port))) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server (existing sessions included), as a host that went down. */
  async pause(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }

  async stop(): Promise<void> {
    await this.pause();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
