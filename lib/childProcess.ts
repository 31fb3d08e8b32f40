/**
 * Commands the steps and targets start (a reload command on this machine, each `bw`): the
 * environment they get, running one to completion, quoting what it said. Here, not in steps/,
 * because both layers start commands and targets/ must not depend on steps/.
 */
import { spawn } from "node:child_process";

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a command the run starts gets (a reload command; each `bw`, plus what it
 * adds): enough to run (PATH, HOME, locale), none of the run's secrets (passphrase, Bitwarden
 * session or password, cloud credentials).
 */
export function childEnvironment(env: NodeJS.ProcessEnv = process.env, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const kept = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
  const out: NodeJS.ProcessEnv = {};
  for (const key of kept) if (env[key] !== undefined) out[key] = env[key];
  return { ...out, ...extra };
}

/** Runs a command to completion; stdin (if any) is written and closed, output collected. */
export function execute(command: string, args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => {}); // a command that ignores stdin may close it early
    child.stdin.end(options.stdin ?? "");
  });
}

/** The first line of a tool's message, cut short: enough to say what failed, never a dump. */
export function firstLine(text: string, max = 300): string {
  return text.trim().split("\n")[0]?.slice(0, max) ?? "";
}
