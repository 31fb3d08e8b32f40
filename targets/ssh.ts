/**
 * An auth config on a FetchML server, over SSH (the `ssh2` library): the deploy key stays in
 * this process's memory (no key file, no agent, no `ssh` command line), and the server's host
 * key must be exactly the configured one (compared as bytes; an unknown or changed key is
 * refused, never learned). File content travels on the channel's stdin, never in a command.
 * The replace on the server is atomic: temp file in the same directory, then `mv`, after
 * checking that nobody changed the file since it was read.
 */
import { createHash } from "node:crypto";
import { Client, type ClientChannel } from "ssh2";
import { firstLine } from "../steps/exec";
import { reloadFailed, type TargetFiles, type TargetIO } from "./io";
import { TargetError } from "./local";
import type { SshTargetSpec } from "./spec";
import { recordPath } from "../lib/targetRecord";

/** Single-quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The key blob of an authorized_keys-style line ("ssh-ed25519 AAAA... comment"). */
export function hostKeyBlob(line: string): Buffer {
  const field = line.trim().split(/\s+/)[1];
  if (!field) throw new TargetError("hostKey: not a host key line");
  return Buffer.from(field, "base64");
}

interface ExecResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export async function openSshTarget(spec: SshTargetSpec): Promise<SshTarget> {
  const target = new SshTarget(spec);
  await target.connect();
  return target;
}

export class SshTarget implements TargetIO {
  readonly label: string;
  private readonly client = new Client();
  private real: string | undefined;

  constructor(private readonly spec: SshTargetSpec) {
    this.label = `${spec.name} (${spec.user}@${spec.host}:${spec.port}:${spec.configPath})`;
  }

  connect(): Promise<void> {
    const pinned = hostKeyBlob(this.spec.hostKey);
    let hostKeyRefused = false;
    return new Promise((resolve, reject) => {
      this.client.once("ready", () => resolve());
      this.client.once("error", (e: Error) => {
        const why = hostKeyRefused
          ? "the server's host key does not match the configured hostKey (refusing to connect)"
          : `cannot connect: ${firstLine(e.message)}`;
        reject(new TargetError(`${this.label}: ${why}`));
      });
      this.client.connect({
        host: this.spec.host,
        port: this.spec.port,
        username: this.spec.user,
        privateKey: this.spec.privateKey,
        readyTimeout: 15_000,
        hostVerifier: (key: Buffer) => {
          hostKeyRefused = !key.equals(pinned);
          return !hostKeyRefused;
        },
      });
    });
  }

  private exec(script: string, stdin = ""): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(script, (err: Error | undefined, channel: ClientChannel) => {
        if (err) return reject(new TargetError(`${this.label}: ${firstLine(err.message)}`));
        const out: Buffer[] = [];
        let stderr = "";
        let code: number | null = null;
        channel.on("data", (b: Buffer) => out.push(b));
        channel.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
        channel.on("exit", (c: number | null) => (code = c));
        channel.on("close", () => resolve({ code, stdout: Buffer.concat(out), stderr }));
        channel.end(stdin);
      });
    });
  }

  private async realPath(): Promise<string> {
    if (this.real) return this.real;
    const f = shellQuote(this.spec.configPath);
    const r = await this.exec(
      `f=${f}; if [ -e "$f" ]; then readlink -f -- "$f"; elif [ -L "$f" ]; then exit 4; ` +
        `else d=$(cd "$(dirname -- "$f")" 2>/dev/null && pwd -P) || exit 5; printf '%s/%s\\n' "$d" "$(basename -- "$f")"; fi`,
    );
    if (r.code === 4) throw new TargetError(`${this.label}: is a symbolic link to a file that does not exist`);
    if (r.code === 5) throw new TargetError(`${this.label}: its directory does not exist on the server`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot resolve the path (exit ${r.code}): ${firstLine(r.stderr)}`);
    this.real = r.stdout.toString("utf8").trim();
    return this.real;
  }

  async identity(): Promise<string> {
    const fingerprint = createHash("sha256").update(hostKeyBlob(this.spec.hostKey)).digest("base64").replace(/=+$/, "");
    return `ssh:SHA256:${fingerprint}:${await this.realPath()}`;
  }

  async read(): Promise<TargetFiles> {
    const real = await this.realPath();
    const dump = (file: string) =>
      `if [ -e ${shellQuote(file)} ]; then printf C; base64 < ${shellQuote(file)} | tr -d '\\n'; else printf N; fi; echo`;
    const r = await this.exec(`set -e; ${dump(real)}; ${dump(recordPath(real))}`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot read the config (exit ${r.code}): ${firstLine(r.stderr)}`);
    const [config, record] = r.stdout.toString("utf8").split("\n");
    const decode = (line: string | undefined) =>
      line?.startsWith("C") ? Buffer.from(line.slice(1), "base64").toString("utf8") : undefined;
    return { config: decode(config), record: decode(record) };
  }

  async writeConfig(text: string, expected: string | undefined) {
    const real = await this.realPath();
    const owner = this.spec.owner ? `${this.spec.owner}${this.spec.group ? `:${this.spec.group}` : ""}` : "";
    const script = [
      "set -eu",
      `f=${shellQuote(real)}; owner=${shellQuote(owner)}`,
      "umask 077",
      "IFS= read -r expect",
      'dir=$(dirname -- "$f"); base=$(basename -- "$f")',
      'tmp=$(mktemp "$dir/.$base.fetchml-keys.XXXXXX")',
      "trap 'rm -f \"$tmp\"' EXIT",
      'cat > "$tmp"',
      // An existing file keeps its owner and mode bits, less any for others.
      'if [ -e "$f" ]; then chmod --reference="$f" "$tmp"; chmod o-rwx "$tmp"; chown --reference="$f" "$tmp" 2>/dev/null || true; now=$(sha256sum < "$f" | cut -d" " -f1); else chmod 600 "$tmp"; now=absent; fi',
      'if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi',
      'sync "$tmp" 2>/dev/null || sync',
      // Changed since it was read (an admin's edit): write nothing, the caller merges again.
      '[ "$now" = "$expect" ] || exit 75',
      'mv -f -- "$tmp" "$f"',
      "trap - EXIT",
      'sync "$dir" 2>/dev/null || true',
    ].join("\n");
    const expect = expected === undefined ? "absent" : createHash("sha256").update(expected, "utf8").digest("hex");
    const r = await this.exec(script, `${expect}\n${text}`);
    if (r.code === 75) return "changed-meanwhile";
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot write the config (exit ${r.code}): ${firstLine(r.stderr)}`);
    return "written";
  }

  async writeRecord(text: string | undefined) {
    const file = recordPath(await this.realPath());
    const script =
      text === undefined
        ? `rm -f -- ${shellQuote(file)}`
        : `set -eu; umask 077; f=${shellQuote(file)}; tmp=$(mktemp "$(dirname -- "$f")/.fetchml-keys-record.XXXXXX"); ` +
          `cat > "$tmp"; chmod 600 "$tmp"; mv -f -- "$tmp" "$f"`;
    const r = await this.exec(script, text ?? "");
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot write ${file} (exit ${r.code}): ${firstLine(r.stderr)}`);
  }

  async removeOldBackup() {
    const file = `${await this.realPath()}.bak`;
    const r = await this.exec(`if [ -e ${shellQuote(file)} ]; then rm -f -- ${shellQuote(file)}; echo removed; fi`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot remove ${file} (exit ${r.code}): ${firstLine(r.stderr)}`);
    return r.stdout.toString("utf8").trim() === "removed";
  }

  async reload() {
    if (!this.spec.reloadCommand) return;
    const r = await this.exec(this.spec.reloadCommand);
    if (r.code !== 0) {
      throw new TargetError(reloadFailed(this.label, r.code, firstLine(r.stderr || r.stdout.toString("utf8"))));
    }
  }

  async close() {
    this.client.end();
  }
}
