/**
 * A short-lived `bw serve` for one run's many vault calls.
 *
 * `bw serve` has no authentication, so it listens on a Unix socket in a fresh 0700 directory
 * of this process (inside this user's own 0700 directory when it can be had, see
 * socketParent): no other local user can connect, and nobody can bind the address first.
 * It runs in its own process group, stopped as a group (SIGKILL after a grace period), and a
 * guard process kills the group if this process dies, so an unlocked vault never outlives
 * the run. The session reaches it in its environment, never in argv.
 *
 * A run that changes a Bitwarden user's key starts its one `bw serve` in the program, for the
 * vault check before the key changes (program/vaultCheck.ts), at a name the vault step finds
 * again (sharedServeDir): the step then uses it instead of starting a second `bw`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { PROJECT_ROOT } from "../../cli/paths";
import { firstLine } from "../../lib/childProcess";
import { parseJsonOr } from "../../lib/json";
import { socketListening } from "../../lib/fileLock";
import { SafeError } from "../io";
import { bwEnv, NOT_UNLOCKED, socketTmpProblem } from "./bw";

/** What `bw serve` answers. */
const serveReply = z.object({ success: z.boolean().optional(), message: z.string().nullish(), data: z.unknown().optional() });

/**
 * This user's directory for `bw serve` sockets, `<tmp>/fetchml-keys-bw-<uid>`: a real directory
 * of its own, 0700. Another account can make that name first in a shared /tmp, but then it is
 * not this user's, and `undefined` says so (the caller then makes a fresh 0700 directory
 * directly in `tmp`, as mkdtemp names it: unguessable, so nobody can make it first). A `tmp`
 * another account could change is refused (socketTmpProblem).
 */
export function socketParent(tmp = os.tmpdir()): string | undefined {
  const problem = socketTmpProblem(tmp);
  if (problem) throw new SafeError(problem);
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

/** The socket's name in its directory, and the longest `bw serve` may take to start listening. */
const SOCKET = "bw.sock";
const START_TIMEOUT_MS = 60_000;

/**
 * Socket directories of this user's runs that were killed with their guard (an isolated run's
 * whole PID namespace goes at once): only in this user's own directory, never by scanning a
 * shared /tmp. One is stale when nothing listens on its socket and it is older than any
 * `bw serve` takes to start; asked of the socket, not of a pid (pids recur in the runner's
 * fresh PID namespaces, and another run's namespace has pids of its own).
 */
export async function sweepSocketDirs(parent: string, now = Date.now()): Promise<void> {
  for (const name of fs.readdirSync(parent)) {
    const dir = path.join(parent, name);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory() || now - st.mtimeMs < START_TIMEOUT_MS) continue;
    if (!(await socketListening(path.join(dir, SOCKET)))) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Where a run's shared `bw serve` listens: one name per stack, checkout, bw data directory,
 * organization and item prefix (what the vault check and the vault step both know), in this
 * user's own directory; undefined when there is none (then nothing is shared). Another stack, or
 * the same one in another checkout, never finds it. The bw lock on the data directory is held
 * while such a serve runs, so one name never has two.
 */
export function sharedServeDir(
  identity: { stack: string; dataDir: string; organizationId: string; itemPrefix: string },
  tmp = os.tmpdir(),
): string | undefined {
  const parent = socketParent(tmp);
  const { stack, dataDir, organizationId, itemPrefix } = identity;
  const id = createHash("sha256")
    .update(JSON.stringify([stack, PROJECT_ROOT, dataDir, organizationId, itemPrefix]))
    .digest("hex")
    .slice(0, 24);
  return parent && path.join(parent, `run-${id}`);
}

/**
 * Stops what still serves at a shared name (`dir`) though nobody holds the bw lock for it: a
 * serve whose program was killed before its guard was in place. This account's `bw serve`
 * processes started for exactly that socket, found in /proc, are killed with their groups.
 */
export async function stopOrphans(dir: string): Promise<void> {
  const argument = `unix://${path.join(dir, SOCKET)}`;
  const uid = process.getuid!();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.statSync(`/proc/${entry}`).uid !== uid) continue;
      if (!fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(argument)) continue;
      const group = Number(fs.readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1].split(" ")[2]);
      signal(group === Number(entry) ? -group : Number(entry), "SIGKILL");
    } catch {
      // gone, or not ours to read
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * `bw serve` answers only requests whose Host header names localhost and its `--port` (a
 * guard against DNS rebinding), even on a Unix socket, where the port is not used otherwise.
 */
const SERVE_PORT = 8087;

/** A `bw serve` this process started (and stops), or one it joined (stopped by whoever started it). */
interface Owned {
  readonly dir: string;
  readonly child: ChildProcess;
  readonly guard: ChildProcess;
}

export class BwServe {
  private constructor(
    private readonly socket: string,
    private readonly owned?: Owned,
  ) {}

  /** Starts `bw serve` in a fresh private directory, for this process's calls only. */
  static async start(bw: string[], session: string): Promise<BwServe> {
    const parent = socketParent();
    if (parent) await sweepSocketDirs(parent);
    const dir = fs.mkdtempSync(parent ? path.join(parent, "serve-") : path.join(os.tmpdir(), "fetchml-keys-bw-serve-"));
    fs.chmodSync(dir, 0o700);
    return BwServe.spawnIn(bw, session, dir);
  }

  /**
   * Starts `bw serve` at `dir` (sharedServeDir) for this run's vault step to join. The caller
   * holds the bw lock, so whatever still serves there is an orphan: it is stopped first. Nothing
   * of it keeps this process running: should it end first, the guard stops bw serve (and leaves
   * the directory, whose name the next holder of the lock may have taken by then).
   */
  static async startShared(bw: string[], session: string, dir: string): Promise<BwServe> {
    await stopOrphans(dir);
    fs.mkdirSync(dir, { mode: 0o700 });
    const serve = await BwServe.spawnIn(bw, session, dir, { shared: true });
    const { child, guard } = serve.owned!;
    child.unref();
    guard.unref();
    (guard.stdin as unknown as { unref(): void }).unref();
    return serve;
  }

  /**
   * The `bw serve` this run's vault check left at `dir`, if it listens there: the directory must
   * be this user's own, closed to others (socketParent's, so nobody else can make it).
   */
  static async join(dir: string): Promise<BwServe | undefined> {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory() || st.uid !== process.getuid!() || (st.mode & 0o077) !== 0) return undefined;
    const socket = path.join(dir, SOCKET);
    return (await socketListening(socket)) ? new BwServe(socket) : undefined;
  }

  private static async spawnIn(bw: string[], session: string, dir: string, options: { shared?: boolean } = {}): Promise<BwServe> {
    const socket = path.join(dir, SOCKET);
    const notStarted = (what: string) => {
      fs.rmSync(dir, { recursive: true, force: true });
      return new SafeError(`${what} could not be started (is the machine out of processes or memory?)`);
    };
    // The guard first, so no bw serve runs without one: it holds our end of a pipe, learns the
    // group to stop on its first line, and when this process dies (even by SIGKILL) kills it.
    // It ignores the signals a terminal sends our group (Ctrl-C), and is in a session of its own,
    // so a kill of this process's whole group leaves it to stop bw serve. It needs no secret.
    // (`kill -KILL -PGID`: dash's kill takes no `--`, and then kills nothing.)
    const guard = spawn(
      "/bin/sh",
      [
        "-c",
        `trap "" INT TERM HUP; read group || exit 0; read _ignored; kill -KILL -"$group" 2>/dev/null; [ -z "$1" ] || rm -rf -- "$1"`,
        "bw-guard",
        options.shared ? "" : dir,
      ],
      { stdio: ["pipe", "ignore", "ignore"], detached: true, env: { PATH: "/usr/bin:/bin" } },
    );
    // A guard that could not be started (fork failing: pids or memory run out, which another
    // account can bring about) would leave bw serve unguarded: nothing starts then.
    guard.on("error", () => undefined);
    guard.stdin?.on("error", () => undefined);
    if (guard.pid === undefined) throw notStarted("bw serve's guard");
    // bw serve starts only once the guard knows its group: until then a gate (the same process,
    // exec'd into bw on "go") waits on our pipe, and should this process die first, it reads the
    // pipe's end and exits. No moment is left where a serve runs that no guard would stop.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        `read go && [ "$go" = go ] && exec "$@" </dev/null`,
        "bw-gate",
        ...bw,
        "serve",
        "--hostname",
        `unix://${socket}`,
        "--port",
        String(SERVE_PORT),
      ],
      {
        env: bwEnv({ BW_SESSION: session }),
        stdio: ["pipe", "ignore", "ignore"],
        detached: true, // its own process group, stopped as a whole
      },
    );
    child.on("error", () => undefined);
    child.stdin?.on("error", () => undefined);
    if (child.pid === undefined) {
      guard.stdin!.end();
      throw notStarted("bw serve");
    }
    guard.stdin!.write(`${child.pid}\n`);
    // "go" only with the guard still there to stop what starts; else the gate reads the pipe's end.
    if (guard.exitCode === null && guard.signalCode === null) child.stdin!.end("go\n");
    else child.stdin!.end();
    const serve = new BwServe(socket, { dir, child, guard });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await serve.call("GET", "/status");
        return serve;
      } catch (e) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          const ended = child.exitCode ?? child.signalCode;
          await serve.close();
          throw new SafeError(`bw serve did not start (${ended === null ? (e as Error).message : `it ended: ${ended}`})`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Runs `then` once the `bw serve` this process started has exited, however it ended. */
  onExit(then: () => void): void {
    const child = this.owned?.child;
    if (!child) return;
    if (child.exitCode !== null || child.signalCode !== null) then();
    else child.once("exit", then);
  }

  /**
   * Stops `bw serve` (its whole process group: a wrapper script cannot keep it alive) and
   * waits until it is gone: it may still be writing bw's data file, and the next `bw` must
   * not race it. A joined serve is left to whoever started it.
   */
  async close(graceMs = 5_000): Promise<void> {
    if (!this.owned) return;
    const { dir, child, guard } = this.owned;
    // First its name: a step that looks for the run's serve from now on starts its own (under the lock).
    fs.rmSync(this.socket, { force: true });
    const group = -child.pid!;
    signal(group, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupAlive(group) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(group)) signal(group, "SIGKILL");
    // Bounded: once the group is gone its id may be another account's group (a zombie in it
    // answers as alive, even to root), and waiting on that would hold the bw lock for good.
    const killedBy = Date.now() + graceMs;
    while (groupAlive(group) && Date.now() < killedBy) await new Promise((r) => setTimeout(r, 20));
    guard.stdin!.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /** Throws NOT_UNLOCKED unless the session this serve runs with opens the vault. */
  async assertUnlocked(): Promise<void> {
    const status = await this.call<{ template?: { status?: string } }>("GET", "/status");
    if (status?.template?.status !== "unlocked") throw new SafeError(NOT_UNLOCKED);
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
      // Not answered at all (gone, or ended mid-request): said as plainly, the socket's path aside.
      request.on("error", (e: NodeJS.ErrnoException) =>
        reject(
          new SafeError(`bw serve ${method} ${route.split("?")[0]}: ${e.code ?? firstLine(e.message, 200)} (is bw serve still running?)`),
        ),
      );
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

/** Whether any process of ours is left in the group (EPERM: only another account's are). */
function groupAlive(group: number): boolean {
  try {
    process.kill(group, 0);
    return true;
  } catch {
    return false;
  }
}
