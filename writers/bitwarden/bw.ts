/**
 * Driving the admin's `bw` CLI from the vault writer: which binary, the session, one lock
 * so no two `bw` processes share its data file, and a short-lived `bw serve` on a random
 * loopback port so a run costs a few `bw` start-ups instead of several per user.
 * Secrets (session, keys) travel in the environment and HTTP bodies, never in argv.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processAlive } from "../../lib/processAlive";
import { execute, type ExecResult, firstLine, freePort } from "../exec";
import { InputError } from "../io";

/** How to start `bw`: the admin's executable, or the project's pinned @bitwarden/cli. */
export function bwCommand(cli: string | undefined): string[] {
  if (cli) return [cli];
  return [process.execPath, require.resolve("@bitwarden/cli/build/bw.js")];
}

export const NOT_UNLOCKED =
  "the Bitwarden vault is not unlocked for this run. Run `bw login` once, then " +
  '`export BW_SESSION="$(bw unlock --raw)"` and retry; for unattended runs set BW_CLIENTID, ' +
  "BW_CLIENTSECRET and BW_PASSWORD instead. Nothing was changed in the vault";

function bwEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, BW_NOINTERACTION: "true", ...extra };
}

function run(bw: string[], args: string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return execute(bw[0], [...bw.slice(1), ...args], { env });
}

/**
 * The session for this run: BW_SESSION as given, or an API-key login plus unlock. Output of
 * `bw login` (which prints a ready-made session hint) is dropped, never logged.
 */
export async function acquireSession(bw: string[]): Promise<string> {
  if (process.env.BW_SESSION) return process.env.BW_SESSION;
  const { BW_CLIENTID, BW_CLIENTSECRET, BW_PASSWORD } = process.env;
  if (!(BW_CLIENTID && BW_CLIENTSECRET && BW_PASSWORD)) throw new InputError(NOT_UNLOCKED);
  const status = await run(bw, ["status"], bwEnv());
  const state = safeJson(status.stdout)?.status;
  if (state === "unauthenticated") {
    const login = await run(bw, ["login", "--apikey"], bwEnv());
    if (login.code !== 0) throw new InputError(`bw login --apikey failed (exit ${login.code}); check BW_CLIENTID and BW_CLIENTSECRET. Nothing was changed in the vault`);
  }
  const unlock = await run(bw, ["unlock", "--passwordenv", "BW_PASSWORD", "--raw"], bwEnv());
  const session = unlock.stdout.trim();
  if (unlock.code !== 0 || !session) throw new InputError(`bw unlock failed (exit ${unlock.code}); check BW_PASSWORD. Nothing was changed in the vault`);
  return session;
}

/** Runs a `bw` command with the session (for what `bw serve` cannot do). */
export async function bwWithSession(bw: string[], session: string, args: string[]): Promise<void> {
  const r = await run(bw, args, bwEnv({ BW_SESSION: session }));
  if (r.code !== 0) throw new InputError(`bw ${args.slice(0, 2).join(" ")} failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout, 200)}`);
}

/** One `bw` user at a time: parallel processes corrupt its data file. */
export async function withBwLock<T>(work: () => Promise<T>): Promise<T> {
  const dir = process.env.BITWARDENCLI_APPDATA_DIR ?? path.join(os.homedir(), ".config", "Bitwarden CLI");
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
      else if (Date.now() > deadline) throw new InputError(`another fetchml-keys run (pid ${holder}) is using bw; try again later`);
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
 * `bw serve` for the length of one run. It is started through a tiny shell watchdog that
 * kills it when this process's pipe closes, so it dies with us even on SIGKILL: an unlocked
 * vault must not stay reachable on a local port.
 */
export class BwServe {
  private constructor(
    private readonly port: number,
    private readonly child: import("node:child_process").ChildProcess,
  ) {}

  static async start(bw: string[], session: string): Promise<BwServe> {
    const port = await freePort();
    const watchdog = 'trap "" INT TERM; "$@" & child=$!; read _ignored; kill $child 2>/dev/null; wait $child';
    const child = spawn("/bin/sh", ["-c", watchdog, "bw-serve", ...bw, "serve", "--hostname", "127.0.0.1", "--port", String(port)], {
      env: bwEnv({ BW_SESSION: session }),
      stdio: ["pipe", "ignore", "ignore"],
    });
    const serve = new BwServe(port, child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await serve.call("GET", "/status");
        return serve;
      } catch (e) {
        if (child.exitCode !== null || Date.now() > deadline) {
          await serve.close();
          throw new InputError(`bw serve did not start (${(e as Error).message})`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Stops `bw serve` and waits until it has exited: it may still be writing bw's data file,
   * and the next `bw` (the admin's, or the next run's) must not race it.
   */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin!.end();
    await exited;
  }

  async call<T = any>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.port}${route}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const reply = safeJson(await response.text());
    if (!response.ok || reply?.success === false) {
      // bw serve's messages are its own ("Not found."), never the request body.
      throw new InputError(`bw serve ${method} ${route.split("?")[0]}: ${firstLine(String(reply?.message ?? response.status), 200)}`);
    }
    return reply?.data as T;
  }
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

