/**
 * An auth config on a FetchML server, over SSH (the `ssh2` library): the deploy key stays in
 * this process's memory (no key file, no agent, no `ssh` command line), and the server's host
 * key must be exactly the configured one (compared as bytes; an unknown or changed key is
 * refused, never learned). File content travels on the channel's stdin, never in a command.
 * The replace on the server is atomic: temp file in the same directory, then `mv`, only once
 * the temp file is exactly what was sent (its length and SHA-256, announced before the content)
 * and nobody changed the file since it was read. A transfer cut short (the run killed, the
 * connection lost) ends the remote `cat` early, like a complete one would: without the check,
 * the cut-off file would be renamed into place.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { Client, type ClientChannel } from "ssh2";
import { ownerNotKept } from "../lib/atomicFile";
import { firstLine } from "../lib/childProcess";
import { placeOf, reloadFailed, TargetError, type TargetFiles, type TargetIO } from "./io";
import { type SshTargetSpec, targetLabel } from "./spec";
import { directoryProblem } from "../lib/safePath";
import { recordPath } from "../lib/targetRecord";
import { AuthConfigError, SERVER_CONFIG_LIMITS, serverConfigTooLarge } from "../lib/serverConfig";

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

/** Where remote scripts find the tools they start by name (see exec). */
const REMOTE_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH";

/** The remote script's exit code for a temp file that is not what was sent. */
const INCOMPLETE = 76;

/** The remote script's exit code for an owner and group the login cannot give the new file. */
const OWNER_NOT_KEPT = 77;

/**
 * Remote shell lines: the first stdin line is "<bytes> <sha256>", the rest the content, which
 * goes into "$tmp"; anything but exactly those bytes exits INCOMPLETE (the caller's trap
 * removes the temp file).
 */
const RECEIVE = [
  "IFS=' ' read -r size sum",
  'cat > "$tmp"',
  `[ "$(wc -c < "$tmp" | tr -d ' ')" = "$size" ] && [ "$(sha256sum < "$tmp" | cut -d" " -f1)" = "$sum" ] || exit ${INCOMPLETE}`,
];

/** What RECEIVE reads: the announced length and SHA-256, then the content. */
function framed(text: string): string {
  return `${Buffer.byteLength(text, "utf8")} ${sha256(text)}\n${text}`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** OWNER_NOT_KEPT's message, from what the script printed: the login's uid, the wanted uid:gid, the file's owner and group names. */
function ownerNotKeptThere(file: string, spec: SshTargetSpec, printed: string): string {
  const [login, want = "", names = ""] = printed.trim().split("\n");
  const who = `the SSH login ${spec.user} (uid ${login})`;
  if (spec.owner)
    return `${who} cannot give ${file} the configured owner ${want} (servers[].owner/group), so nothing was replaced; connect as root or as that owner`;
  const [uid, gid] = want.split(":");
  const [user, group] = names.split(" ");
  const named = (name: string | undefined, kind: string, id: string) =>
    name && name !== "UNKNOWN" ? `${name} (${kind} ${id})` : `${kind} ${id}`;
  return ownerNotKept(file, named(user, "uid", uid), named(group, "gid", gid), who);
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
    this.label = targetLabel(spec);
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

  /**
   * Runs a script in the login's shell on the server. It starts tools by name (`cat` gets every
   * hash, `base64` the whole config), so it first sets PATH to the system's directories: the
   * login's own PATH is the server's to set (`/etc/environment`, `SetEnv`) and may hold a
   * directory another account there can add programs to. The reload command runs the same way.
   */
  private exec(script: string, stdin = ""): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(`${REMOTE_PATH}\n${script}`, (err: Error | undefined, channel: ClientChannel) => {
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
    // The real path, the login's uid, then owner, group and mode of each directory from the
    // file's up to / (checked below: nobody but root and the login may change where it lands).
    const r = await this.exec(
      `f=${f}; if [ -e "$f" ]; then real=$(readlink -f -- "$f"); elif [ -L "$f" ]; then exit 4; ` +
        `else d=$(cd "$(dirname -- "$f")" 2>/dev/null && pwd -P) || exit 5; real="$d/$(basename -- "$f")"; fi; ` +
        `printf '%s\\n' "$real"; id -u; d=$(dirname -- "$real"); ` +
        `while :; do stat -c '%u %g %a' -- "$d" || exit 6; [ "$d" = / ] && break; d=$(dirname -- "$d"); done`,
    );
    if (r.code === 4) throw new TargetError(`${this.label}: is a symbolic link to a file that does not exist`);
    if (r.code === 5) throw new TargetError(`${this.label}: its directory does not exist on the server`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot resolve the path (exit ${r.code}): ${firstLine(r.stderr)}`);
    const [real, uid, ...dirs] = r.stdout.toString("utf8").trim().split("\n");
    let dir = path.posix.dirname(real);
    let entryUid: number | undefined;
    for (const [i, line] of dirs.entries()) {
      const [owner, group, mode] = line.split(" ");
      const facts = { path: dir, uid: Number(owner), gid: Number(group), mode: parseInt(mode, 8) };
      const problem = directoryProblem(facts, entryUid, i === 0, Number(uid), {
        user: (id) => `uid ${id}`,
        group: (id) => `gid ${id}`,
      });
      if (problem) throw new TargetError(`${this.label}: on the server, ${problem}`);
      entryUid = facts.uid;
      dir = path.posix.dirname(dir);
    }
    this.real = real;
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
    // The config only if it is a regular file within the size limit, which is checked before it is sent (L<size>, D, X).
    const f = shellQuote(real);
    const config =
      `if [ -f ${f} ]; then s=$(wc -c < ${f} | tr -d ' '); if [ "$s" -gt ${SERVER_CONFIG_LIMITS.bytes} ]; then printf "L%s" "$s"; ` +
      `else printf C; base64 < ${f} | tr -d '\\n'; fi; elif [ -d ${f} ]; then printf D; elif [ -e ${f} ]; then printf X; else printf N; fi; echo`;
    // Where the file is (targets/io.ts placeOf): the boot id, then the file's device, inode and mode, or its directory's.
    const d = shellQuote(path.posix.dirname(real));
    const place =
      `printf 'P%s ' "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || :)"; ` +
      `stat -L -c '%d %i %a' -- ${f} 2>/dev/null || { stat -L -c '%d %i' -- ${d} 2>/dev/null | tr '\n' ' '; echo new; } || echo`;
    const r = await this.exec(`set -e; ${config}; ${dump(recordPath(real))}; ${place}`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot read the config (exit ${r.code}): ${firstLine(r.stderr)}`);
    const [configLine, record, placeLine] = r.stdout.toString("utf8").split("\n");
    if (configLine.startsWith("L")) throw new AuthConfigError(serverConfigTooLarge(this.label, Number(configLine.slice(1))));
    if (configLine === "D") throw new AuthConfigError(`${this.label}: is a directory on the server; name the config file itself`);
    if (configLine === "X") throw new AuthConfigError(`${this.label}: is not a regular file on the server; name the config file itself`);
    const decode = (line: string | undefined) =>
      line?.startsWith("C") ? Buffer.from(line.slice(1), "base64").toString("utf8") : undefined;
    const [boot, dev, ino, modeOrNew] = (placeLine ?? "").replace(/^P/, "").split(" ");
    const placed = boot && /^\d+$/.test(dev ?? "") && /^\d+$/.test(ino ?? "");
    const text = decode(configLine);
    return {
      config: text,
      record: decode(record),
      ...(placed ? { place: placeOf(boot, dev, ino, modeOrNew === "new" ? path.posix.basename(real) : undefined) } : {}),
      ...(text !== undefined && /^[0-7]{1,4}$/.test(modeOrNew ?? "") ? { mode: parseInt(modeOrNew, 8) } : {}),
    };
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
      ...RECEIVE,
      // An existing file keeps its owner, group and mode bits (less any for others), or takes
      // the configured owner (and group). The owner and group first, while the complete temp
      // file is 0600 and the login's; the mode only then, in one step (never a moment with a
      // group's or others' bits it will not keep). A login that cannot give that owner and
      // group (not root, not the owner, not in the group) writes nothing.
      'if [ -e "$f" ]; then keep=$(stat -c %u:%g -- "$f"); mode=$(stat -c %a -- "$f"); now=$(sha256sum < "$f" | cut -d" " -f1); else keep=; mode=600; now=absent; fi',
      'case $owner in "") want=$keep ;; *:*) want=$owner ;; *) want=$owner${keep:+:${keep#*:}} ;; esac',
      `if [ -n "$want" ] && ! chown -- "$want" "$tmp" 2>/dev/null; then id -u; printf '%s\\n' "$want"; stat -c '%U %G' -- "$f" 2>/dev/null || :; exit ${OWNER_NOT_KEPT}; fi`,
      'chmod "$(printf %o "$((0$mode & 0770))")" "$tmp"',
      'sync "$tmp" 2>/dev/null || sync',
      // Changed since it was read (an admin's edit): write nothing, the caller merges again.
      '[ "$now" = "$expect" ] || exit 75',
      'mv -f -- "$tmp" "$f"',
      "trap - EXIT",
      'sync "$dir" 2>/dev/null || true',
    ].join("\n");
    const expect = expected === undefined ? "absent" : sha256(expected);
    const r = await this.exec(script, `${expect}\n${framed(text)}`);
    if (r.code === 75) return "changed-meanwhile";
    if (r.code === OWNER_NOT_KEPT)
      throw new TargetError(`${this.label}: on the server, ${ownerNotKeptThere(real, this.spec, r.stdout.toString("utf8"))}`);
    if (r.code === INCOMPLETE)
      throw new TargetError(`${this.label}: the new config did not arrive whole on the server; nothing was replaced`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot write the config (exit ${r.code}): ${firstLine(r.stderr)}`);
    return "written";
  }

  async writeRecord(text: string | undefined) {
    const file = recordPath(await this.realPath());
    const script =
      text === undefined
        ? `rm -f -- ${shellQuote(file)}`
        : [
            "set -eu",
            "umask 077",
            `f=${shellQuote(file)}`,
            'tmp=$(mktemp "$(dirname -- "$f")/.fetchml-keys-record.XXXXXX")',
            "trap 'rm -f \"$tmp\"' EXIT",
            ...RECEIVE,
            'chmod 600 "$tmp"',
            'mv -f -- "$tmp" "$f"',
            "trap - EXIT",
          ].join("\n");
    const r = await this.exec(script, text === undefined ? "" : framed(text));
    if (r.code === INCOMPLETE) throw new TargetError(`${this.label}: ${file} did not arrive whole on the server; nothing was replaced`);
    if (r.code !== 0) throw new TargetError(`${this.label}: cannot write ${file} (exit ${r.code}): ${firstLine(r.stderr)}`);
  }

  async reload() {
    if (!this.spec.reloadCommand) return;
    const r = await this.exec(this.spec.reloadCommand);
    if (r.code !== 0) {
      const notFound = r.code === 127 ? ` (it runs with ${REMOTE_PATH.split(";")[0]}: name a program elsewhere by its full path)` : "";
      throw new TargetError(reloadFailed(this.label, r.code, firstLine(r.stderr || r.stdout.toString("utf8")) + notFound));
    }
  }

  async close() {
    this.client.end();
  }
}
