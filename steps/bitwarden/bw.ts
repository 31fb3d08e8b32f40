/**
 * Driving the admin's `bw` CLI: which binary, the session, and one lock so no two `bw`
 * processes share its data file. The many calls of a run go through one short-lived
 * `bw serve` (serve.ts), so a run costs a few `bw` start-ups instead of several per user.
 * Secrets (session, keys) travel in the environment of the `bw` that needs them and in
 * request bodies, never in argv; each `bw` gets only the environment it needs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DIST_DIR, MODULE_PATHS_PRELOAD } from "../../cli/paths";
import { FileLocked, lockFile } from "../../lib/fileLock";
import { childEnvironment, execute, type ExecResult } from "../../lib/childProcess";
import { z } from "zod";
import { parseJsonOr } from "../../lib/json";
import { newFileProblem, openOnTheWay, replaceableFile, systemRule } from "../../lib/safePath";
import { SafeError } from "../io";

/** Loaded into the pinned bw: its data file's lock asked for every 5 ms, not every 100 ms (bwPreload.ts). */
const BW_PRELOAD = path.join(DIST_DIR, "steps", "bitwarden", "bwPreload.js");

/**
 * How to start `bw`: the admin's executable, or the project's pinned @bitwarden/cli, which
 * finds its packages inside this checkout only (build/modulePaths.ts) and waits less on its own
 * file lock (bwPreload.ts). Refused, before any
 * `bw` starts, where another account could choose what runs or whom it trusts (bwTrustProblems).
 */
export function bwCommand(cli: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems = bwTrustProblems(cli, env);
  if (problems.length > 0) throw new SafeError(problems.join("; "));
  // The very file checked (a name is looked up once, here): a later lookup could find another.
  if (cli) return [onPath(cli, env.PATH) ?? cli];
  return [process.execPath, "--require", MODULE_PATHS_PRELOAD, "--require", BW_PRELOAD, require.resolve("@bitwarden/cli/build/bw.js")];
}

/**
 * What another local account could change to take the vault: the `bw` program itself (it runs
 * with the session, and unattended with BW_PASSWORD and BW_CLIENTSECRET), or the CA file every
 * `bw` trusts (NODE_EXTRA_CA_CERTS: with a certificate of its own for a loopback vault, an
 * account answering there while the vault is down receives the login). Both must be files only
 * root, this user or a system account can change (lib/safePath systemRule). Also checked at
 * preview (program/loadSettings.ts), so the review refuses first.
 */
export function bwTrustProblems(cli: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  const program = cli === undefined ? undefined : onPath(cli, env.PATH);
  const programOpen = program && replaceableFile(program, systemRule());
  if (programOpen)
    problems.push(
      `bitwarden.cli ${JSON.stringify(cli)}: another account could replace what runs (${programOpen}), and it runs with the vault session; install bw where only root or you can change it`,
    );
  // What bw runs as; a script's interpreter runs with the session as much as the script does.
  const runs = bwExecutable(cli, env);
  const interpreterOpen =
    program &&
    (runs === undefined ? "its #! interpreter cannot be told" : runs !== fs.realpathSync(program) && replaceableFile(runs, systemRule()));
  if (interpreterOpen)
    problems.push(
      `bitwarden.cli ${JSON.stringify(cli)}: another account could replace the interpreter it runs under (${interpreterOpen}), and it runs with the vault session; install it where only root or you can change it, and name it in the #! line by its path`,
    );
  // bw keeps the login (tokens, the client secret, the encrypted user key) in data.json here: a
  // file another account made first, or can replace, would be read or pointed at its own server.
  const data = path.join(dataDirOf(runs, env), "data.json");
  const own = { trusted: (owner: number) => owner === 0 || owner === (process.geteuid?.() ?? 0) };
  const dataMode = fs.statSync(data, { throwIfNoEntry: false })?.mode;
  const dataProblem =
    (dataMode === undefined ? openOnTheWay(data, own) : replaceableFile(data, own)) ??
    (dataMode !== undefined && dataMode & 0o044 ? `${data} is readable by others, mode ${(dataMode & 0o777).toString(8)}` : undefined);
  if (dataProblem)
    problems.push(
      `bw's data directory ${path.dirname(data)}: another account could read or replace its data.json (${dataProblem}), which holds the Bitwarden login; keep it (BITWARDENCLI_APPDATA_DIR) where only you or root can change it`,
    );
  const tmpOpen = socketTmpProblem(tmpDirOf(env));
  if (tmpOpen) problems.push(tmpOpen);
  const ca = env.NODE_EXTRA_CA_CERTS;
  const caOpen = ca ? replaceableFile(path.resolve(ca), systemRule()) : undefined;
  if (caOpen)
    problems.push(
      `NODE_EXTRA_CA_CERTS ${ca}: another account could replace it (${caOpen}), and with it the certificate bw takes for the vault's, so whoever answers there would receive the Bitwarden login; keep the CA's certificate where only root or you can change it`,
    );
  return problems;
}

/** The temporary directory a process with `env` takes (os.tmpdir()'s rule). */
export function tmpDirOf(env: NodeJS.ProcessEnv): string {
  const tmp = env.TMPDIR || env.TMP || env.TEMP || "/tmp";
  return tmp.length > 1 && tmp.endsWith("/") ? tmp.slice(0, -1) : tmp;
}

/**
 * Why `bw serve`'s socket directory under `tmp` is not safe from other accounts: one that can
 * change a directory on the way (a TMPDIR of theirs, or one all may write and not sticky) could
 * move the directory this run made away and put one of its own, listening, in its place, and
 * would then be sent every key the vault step writes. Undefined when none can.
 */
export function socketTmpProblem(tmp: string): string | undefined {
  const parent = path.join(tmp, `fetchml-keys-bw-${process.geteuid?.() ?? 0}`);
  // Node cuts a socket address past 107 bytes short without a word, on bind and connect alike:
  // harmless while the cut falls in the socket's own name (the run's directory still holds it),
  // not once it falls in a directory's name (serve.ts's longest: run-<24 hex>/).
  const socketDir = path.join(parent, `run-${"0".repeat(24)}`);
  if (Buffer.byteLength(socketDir) + 2 > 107)
    return `TMPDIR ${tmp}: too long for bw serve's socket (its directory's name alone takes ${Buffer.byteLength(socketDir)} of the 107 bytes a Unix socket address holds); set TMPDIR to a shorter directory only you or root can change (or leave it unset for /tmp)`;
  const problem = newFileProblem(parent);
  return (
    problem &&
    `TMPDIR ${tmp}: another account could swap the directory bw serve listens in (${problem}), and receive the keys written to the vault; set TMPDIR to a directory only you or root can change (or leave it unset for /tmp)`
  );
}

/**
 * Where bw keeps its data, by bw's own rule on Linux (its service container): a `bw-data`
 * directory beside the executable bw runs as (process.execPath), when there is one, ahead of
 * BITWARDENCLI_APPDATA_DIR; then XDG_CONFIG_HOME or ~/.config. `cli` as in bwCommand.
 */
export function bwDataDir(env: NodeJS.ProcessEnv = process.env, cli?: string): string {
  return dataDirOf(bwExecutable(cli, env), env);
}

/** bwDataDir for the executable bw runs as (bwExecutable's answer). */
function dataDirOf(executable: string | undefined, env: NodeJS.ProcessEnv): string {
  const portable = executable && path.join(path.dirname(executable), "bw-data");
  if (portable && fs.statSync(portable, { throwIfNoEntry: false })?.isDirectory()) return portable;
  if (env.BITWARDENCLI_APPDATA_DIR) return path.resolve(env.BITWARDENCLI_APPDATA_DIR);
  if (env.XDG_CONFIG_HOME) return path.join(env.XDG_CONFIG_HOME, "Bitwarden CLI");
  return path.join(env.HOME ?? "", ".config/Bitwarden CLI");
}

/**
 * What a `bw` process's process.execPath will be: the project's bw runs under this node; an
 * admin's is a native executable (itself), or a script whose `#!` line names its interpreter
 * (`/usr/bin/env node`: node as PATH finds it). Undefined when it cannot be told.
 */
function bwExecutable(cli: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (cli === undefined) return process.execPath;
  const program = onPath(cli, env.PATH);
  if (!program) return undefined;
  const head = Buffer.alloc(256);
  const fd = fs.openSync(program, "r");
  const length = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const first = head.subarray(0, length).toString("latin1").split("\n")[0];
  if (!first.startsWith("#!")) return fs.realpathSync(program);
  const [interpreter, ...args] = first
    .slice(2)
    .trim()
    .split(/[ \t]+/);
  const named = path.basename(interpreter) === "env" ? envCommand(args) : interpreter;
  const found = named && onPath(named, env.PATH);
  return found && fs.realpathSync(found);
}

/**
 * The command `env ARGS...` runs (GNU env: options, NAME=VALUE settings, then the command;
 * `-S`/`--split-string` splits its string into more of them), or undefined when it cannot be told.
 */
function envCommand(args: readonly string[]): string | undefined {
  const words: string[] = [];
  for (const arg of args) {
    const split = /^(?:-S|--split-string=?)(.*)$/.exec(arg);
    words.push(...(split ? split[1].split(/[ \t]+/).filter(Boolean) : [arg]));
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (/^(-u|--unset|-C|--chdir)$/.test(word)) i++;
    else if (word.startsWith("-") || word.includes("=")) continue;
    else return word;
  }
  return undefined;
}

/** The file a command name runs, as execvp finds it (a name with a '/' is a path); undefined when there is none. */
export function onPath(command: string, searchPath = ""): string | undefined {
  const candidates = command.includes("/")
    ? [path.resolve(command)]
    : searchPath.split(":").map((dir) => path.resolve(dir || ".", command));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false; // not here
    }
  });
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

/**
 * One `bw` user at a time: parallel processes corrupt its data file, so the lock lives beside it.
 * `cli` as in bwCommand. Resolves to the function that releases it (once; later calls do nothing).
 */
export async function takeBwLock(cli: string | undefined, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<() => void> {
  const release = await bwLock(cli, env, 300_000, signal);
  if (!release && signal?.aborted) throw new SafeError(`stopped waiting for bw's lock: ${String(signal.reason)}`);
  if (!release) throw new SafeError("another fetchml-keys run is using bw (for 5 minutes now); try again later");
  return release;
}

/** takeBwLock without waiting: undefined while another command holds the lock. */
export function tryBwLock(cli: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<(() => void) | undefined> {
  return bwLock(cli, env, 0);
}

async function bwLock(
  cli: string | undefined,
  env: NodeJS.ProcessEnv,
  waitMs: number,
  signal?: AbortSignal,
): Promise<(() => void) | undefined> {
  const dir = bwDataDir(env, cli);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const release = await lockFile(dir, { lock: path.join(dir, "fetchml-keys.lock"), waitMs, signal });
    let released = false;
    return () => {
      if (!released) release();
      released = true;
    };
  } catch (e) {
    if (e instanceof FileLocked) return undefined;
    throw e;
  }
}

/** `work` under the bw lock (takeBwLock). */
export async function withBwLock<T>(cli: string | undefined, work: () => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const release = await takeBwLock(cli, env);
  try {
    return await work();
  } finally {
    release();
  }
}
