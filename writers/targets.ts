/**
 * Where an auth config lives: a local file, or a file on a FetchML server reached over SSH.
 * Both are read, merged (by the same code) and replaced atomically with a backup, then the
 * server is reloaded. Over SSH the content travels on stdin; host keys are pinned (a
 * known_hosts file holding only the configured key); the private key is a 0600 temp file
 * for the length of the run. No secret is ever in a command line.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readFileIfExists, writeFileAtomic } from "../lib/atomicFile";
import { execute, type ExecResult, firstLine } from "./exec";
import { InputError } from "./io";

export interface LocalTarget {
  kind: "local";
  path: string;
  reload?: string;
}

export interface SshTarget {
  kind: "ssh";
  name: string;
  host: string;
  port: number;
  user: string;
  privateKey: string;
  hostKey: string;
  path: string;
  owner?: string;
  group?: string;
  reload?: string;
}

export type Target = LocalTarget | SshTarget;

export interface TargetIO {
  label: string;
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
  reload(): Promise<void>;
  close(): void;
}

export function openTarget(target: Target): TargetIO {
  return target.kind === "ssh" ? new SshTargetIO(target) : new LocalTargetIO(target);
}

class LocalTargetIO implements TargetIO {
  readonly label: string;
  private readonly file: string;

  constructor(private readonly target: LocalTarget) {
    this.file = path.resolve(target.path);
    this.label = this.file;
  }

  async read() {
    return readFileIfExists(this.file);
  }

  async write(text: string) {
    writeFileAtomic(this.file, text, { backup: fs.existsSync(this.file) });
  }

  async reload() {
    if (!this.target.reload) return;
    const r = await execute("/bin/sh", ["-c", this.target.reload]);
    if (r.code !== 0) throw new InputError(`${this.label}: reload command failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
  }

  close() {}
}

/** Single-quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

class SshTargetIO implements TargetIO {
  readonly label: string;
  private readonly dir: string;
  private readonly args: string[];

  constructor(private readonly target: SshTarget) {
    this.label = `${target.name} (${target.user}@${target.host}:${target.port}:${target.path})`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-keys-ssh-"));
    const keyFile = path.join(this.dir, "id");
    const knownHosts = path.join(this.dir, "known_hosts");
    fs.writeFileSync(keyFile, target.privateKey.trimEnd() + "\n", { mode: 0o600 });
    const hostPattern = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
    fs.writeFileSync(knownHosts, `${hostPattern} ${target.hostKey.trim()}\n`, { mode: 0o600 });
    this.args = [
      "-F", "/dev/null", "-i", keyFile, "-p", String(target.port),
      "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
      `${target.user}@${target.host}`,
    ];
  }

  private async remote(script: string, stdin = ""): Promise<ExecResult> {
    const r = await execute("ssh", [...this.args, script], { stdin });
    if (r.code === 255) {
      const why = /Host key verification failed/.test(r.stderr)
        ? "the server's host key does not match the configured hostKey (refusing to connect)"
        : `cannot connect: ${firstLine(r.stderr) || "ssh exited 255"}`;
      throw new InputError(`${this.label}: ${why}`);
    }
    return r;
  }

  async read() {
    const p = shellQuote(this.target.path);
    const r = await this.remote(`if [ -e ${p} ]; then cat -- ${p}; else exit 3; fi`);
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw new InputError(`${this.label}: cannot read the config (exit ${r.code}): ${firstLine(r.stderr)}`);
    return r.stdout;
  }

  async write(text: string) {
    const owner = this.target.owner ? `${this.target.owner}${this.target.group ? `:${this.target.group}` : ""}` : "";
    // Temp file in the target's directory, so the final rename is atomic on that filesystem.
    const script = [
      "set -eu",
      `f=${shellQuote(this.target.path)}`,
      `owner=${shellQuote(owner)}`,
      "umask 077",
      'dir=$(dirname -- "$f"); base=$(basename -- "$f")',
      'tmp=$(mktemp "$dir/.$base.fetchml-keys.XXXXXX")',
      "trap 'rm -f \"$tmp\" \"$tmp.bak\"' EXIT",
      'cat > "$tmp"',
      'if [ -e "$f" ]; then cp -p -- "$f" "$tmp.bak"; chmod 600 "$tmp.bak"; mv -f -- "$tmp.bak" "$f.bak"; chown --reference="$f" "$tmp" 2>/dev/null || true; fi',
      'if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi',
      'chmod 600 "$tmp"',
      'sync "$tmp" 2>/dev/null || sync',
      'mv -f -- "$tmp" "$f"',
      'sync "$dir" 2>/dev/null || true',
      "trap - EXIT",
    ].join("\n");
    const r = await this.remote(script, text);
    if (r.code !== 0) throw new InputError(`${this.label}: cannot write the config (exit ${r.code}): ${firstLine(r.stderr)}`);
  }

  async reload() {
    if (!this.target.reload) return;
    const r = await this.remote(this.target.reload);
    if (r.code !== 0) throw new InputError(`${this.label}: reload command failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
  }

  close() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
