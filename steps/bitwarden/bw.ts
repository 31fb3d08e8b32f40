/**
 * Driving the admin's `bw` CLI: which binary, the session, one lock so no two `bw` processes
 * share its data file, and a short-lived `bw serve` so a run costs a few `bw` start-ups
 * instead of several per user.
 *
 * `bw serve` has no authentication, so it listens on a Unix socket in a fresh 0700 directory
 * of this process (inside this user's own 0700 directory when it can be had, see
 * socketParent): no other local user can connect, and nobody can bind the address first.
 * It runs in its own process group, stopped as a group (SIGKILL after a grace period), and a
 * guard process kills the group if this process dies, so an unlocked vault never outlives
 * the run. Secrets (session, keys) travel in the environment of the `bw` that needs them and
 * in request bodies, never in argv; each `bw` gets only the environment it needs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { processAlive } from "../../lib/processAlive";
import { childEnvironment, execute, type ExecResult, firstLine } from "../../lib/childProcess";
import { z } from "zod";
import { parseJsonOr } from "../../lib/json";
import { SafeError } from "../io";

/** How to start `bw`: the admin's executable, or the project's pinned @bitwarden/cli. */
export function bwCommand(cli: string | undefined): string[] {
  if (cli) return [cli];
  return [process.execPath, require.resolve("@bitwarden/cli/build/bw.js")];
}

export const NOT_UNLOCKED =
  "the Bitwarden vault is not unlocked for this run. Run `npm run -s bw -- login` once, then " +
  '`export BW_SESSION="$(npm run -s bw -- unlock --raw)"` and retry; for unattended runs set BW_CLIENTID, ' +
  "BW_CLIENTSECRET and BW_PASSWORD instead. Nothing was changed in the vault";

/** What any `bw` needs: its data dir, trust and proxy settings, no prompts; plus `extra`. */
export function bwEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const passed: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (/^(BITWARDENCLI_APPDATA_DIR|NODE_EXTRA_CA_CERTS|NODE_TLS_REJECT_UNAUTHORIZED|XDG_CONFIG_HOME)$/.test(key)) passed[key] = value;
    if (/^(https?|no|all)_proxy$/i.test(key)) passed[key] = value;
  }
  return childEnvironment(env, { ...passed, BW_NOINTERACTION: "true", ...extra });
}

function run(bw: string[], args: string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return execute(bw[0], [...bw.slice(1), ...args], { env });
}

/** What `bw status` prints (the fields this project reads). */
const bwStatus = z.object({ status: z.string(), userEmail: z.string().nullish(), serverUrl: z.string().nullish() });
/** What `bw serve` answers. */
const serveReply = z.object({ success: z.boolean().optional(), message: z.string().nullish(), data: z.unknown().optional() });

function statusOf(stdout: string) {
  const parsed = bwStatus.safeParse(parseJsonOr(stdout, undefined));
  return parsed.success ? parsed.data : undefined;
}

/** Whether the session opens the vault: `bw status` (one short `bw`, nothing else started). */
export async function checkUnlocked(bw: string[], session: string): Promise<{ userEmail?: string | null; serverUrl?: string | null }> {
  const result = await run(bw, ["status"], bwEnv({ BW_SESSION: session }));
  const status = statusOf(result.stdout);
  if (result.code !== 0 || status?.status !== "unlocked") throw new SafeError(NOT_UNLOCKED);
  return { userEmail: status.userEmail, serverUrl: status.serverUrl };
}

/**
 * The session for this run: BW_SESSION as given, or an API-key login plus unlock. Output of
 * `bw login` (which prints a ready-made session hint) is dropped, never logged.
 */
export async function acquireSession(bw: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.BW_SESSION) return env.BW_SESSION;
  const { BW_CLIENTID, BW_CLIENTSECRET, BW_PASSWORD } = env;
  if (!(BW_CLIENTID && BW_CLIENTSECRET && BW_PASSWORD)) throw new SafeError(NOT_UNLOCKED);
  const status = await run(bw, ["status"], bwEnv({}, env));
  if (statusOf(status.stdout)?.status === "unauthenticated") {
    const login = await run(bw, ["login", "--apikey"], bwEnv({ BW_CLIENTID, BW_CLIENTSECRET }, env));
    if (login.code !== 0)
      throw new SafeError(
        `bw login --apikey failed (exit ${login.code}); check BW_CLIENTID and BW_CLIENTSECRET. Nothing was changed in the vault`,
      );
  }
  const unlock = await run(bw, ["unlock", "--passwordenv", "BW_PASSWORD", "--raw"], bwEnv({ BW_PASSWORD }, env));
  const session = unlock.stdout.trim();
  if (unlock.code !== 0 || !session)
    throw new SafeError(`bw unlock failed (exit ${unlock.code}); check BW_PASSWORD. Nothing was changed in the vault`);
  return session;
}

/** Runs a `bw` command with the session (for what `bw serve` cannot do). */
export async function bwWithSession(bw: string[], session: string, args: string[]): Promise<void> {
  const r = await run(bw, args, bwEnv({ BW_SESSION: session }));
  if (r.code !== 0)
    throw new SafeError(`bw ${args.slice(0, 2).join(" ")} failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout, 200)}`);
}

/** One `bw` user at a time: parallel processes corrupt its data file. */
export async function withBwLock<T>(work: () => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const dir = env.BITWARDENCLI_APPDATA_DIR ?? path.join(os.homedir(), ".config", "Bitwarden CLI");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = path.join(dir, "fetchml-keys.lock");
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(fs.readFileSync(lock, "utf8"));
      if (!processAlive(holder)) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new SafeError(`another fetchml-keys run (pid ${holder}) is using bw; try again later`);
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * This user's directory for `bw serve` sockets, `<tmp>/fetchml-keys-bw-<uid>`: a real directory
 * of its own, 0700. Another account can make that name first in a shared /tmp, but then it is
 * not this user's, and `undefined` says so (the caller then makes a fresh 0700 directory
 * directly in `tmp`, as mkdtemp names it: unguessable, so nobody can make it first).
 */
export function socketParent(tmp = os.tmpdir()): string | undefined {
  const uid = process.getuid!();
  const dir = path.join(tmp, `fetchml-keys-bw-${uid}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  const st = fs.lstatSync(dir);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined;
}

/**
 * Socket directories of this user's runs that were killed with their guard (each named after
 * its pid): only in this user's own directory, never by scanning a shared /tmp.
 */
export function sweepSocketDirs(parent: string): void {
  for (const name of fs.readdirSync(parent)) {
    const m = /^(\d+)-/.exec(name);
    if (m && !processAlive(Number(m[1]))) fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

/**
 * `bw serve` answers only requests whose Host header names localhost and its `--port` (a
 * guard against DNS rebinding), even on a Unix socket, where the port is not used otherwise.
 */
const SERVE_PORT = 8087;

export class BwServe {
  private constructor(
    private readonly dir: string,
    private readonly socket: string,
    private readonly child: ChildProcess,
    private readonly guard: ChildProcess,
  ) {}

  static async start(bw: string[], session: string): Promise<BwServe> {
    const parent = socketParent();
    if (parent) sweepSocketDirs(parent);
    const dir = fs.mkdtempSync(parent ? path.join(parent, `${process.pid}-`) : path.join(os.tmpdir(), `fetchml-keys-bw-${process.pid}-`));
    fs.chmodSync(dir, 0o700);
    const socket = path.join(dir, "bw.sock");
    const child = spawn(bw[0], [...bw.slice(1), "serve", "--hostname", `unix://${socket}`, "--port", String(SERVE_PORT)], {
      env: bwEnv({ BW_SESSION: session }),
      stdio: ["ignore", "ignore", "ignore"],
      detached: true, // its own process group, stopped as a whole
    });
    // Holds our end of a pipe: when this process dies, even by SIGKILL, the group dies too.
    // It ignores the signals a terminal sends our group (Ctrl-C), so it outlives us.
    const guard = spawn(
      "/bin/sh",
      ["-c", `trap "" INT TERM HUP; read _ignored; kill -KILL -- -${child.pid} 2>/dev/null; rm -rf -- "$1"`, "bw-guard", dir],
      {
        stdio: ["pipe", "ignore", "ignore"],
      },
    );
    const serve = new BwServe(dir, socket, child, guard);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await serve.call("GET", "/status");
        return serve;
      } catch (e) {
        if (child.exitCode !== null || Date.now() > deadline) {
          await serve.close();
          throw new SafeError(`bw serve did not start (${(e as Error).message})`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Stops `bw serve` (its whole process group: a wrapper script cannot keep it alive) and
   * waits until it is gone: it may still be writing bw's data file, and the next `bw` must
   * not race it.
   */
  async close(graceMs = 5_000): Promise<void> {
    const group = -this.child.pid!;
    signal(group, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupAlive(group) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(group)) signal(group, "SIGKILL");
    while (groupAlive(group)) await new Promise((r) => setTimeout(r, 20));
    this.guard.stdin!.end();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  call<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          socketPath: this.socket,
          path: route,
          method,
          headers: {
            Host: `localhost:${SERVE_PORT}`,
            ...(payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (c: Buffer) => chunks.push(c));
          response.on("end", () => {
            // Some answers (a trash DELETE) carry no {success, data} envelope: a 2xx alone is success.
            const parsed = serveReply.safeParse(parseJsonOr(Buffer.concat(chunks).toString("utf8"), undefined));
            const reply = parsed.success ? parsed.data : undefined;
            if ((response.statusCode ?? 500) >= 400 || reply?.success === false) {
              // bw serve's messages are its own ("Not found."), never the request body.
              reject(
                new SafeError(
                  `bw serve ${method} ${route.split("?")[0]}: ${firstLine(String(reply?.message ?? response.statusCode), 200)}`,
                ),
              );
            } else resolve(reply?.data as T);
          });
        },
      );
      request.on("error", reject);
      request.end(payload);
    });
  }
}

function signal(group: number, name: NodeJS.Signals): void {
  try {
    process.kill(group, name);
  } catch {
    // already gone
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(group, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
