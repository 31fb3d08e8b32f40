/**
 * The runner as an admin starts it (`bin/fetchml-keys ...`, a separate process), with or
 * without a terminal. The terminal is a real pseudo-terminal (util-linux `script`), and an
 * answer is typed only once the runner asks, as a person would.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../cli/paths";
import { shellQuote } from "../../targets/ssh";

export interface RunnerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they arrived (a terminal shows them interleaved). */
  all: string;
}

export interface RunnerOptions {
  env: Record<string, string>;
  /** Run in a pseudo-terminal, typing this answer at the first `[y/N]` prompt (a function: once it resolves). */
  terminalAnswer?: string | (() => Promise<string>);
  /** Another working copy of the project to run from (default: this one). */
  root?: string;
  /** Called with the child's pid once started (to kill it in a test). */
  onStart?: (pid: number) => void;
}

export function runRunner(args: string[], options: RunnerOptions): Promise<RunnerResult> {
  const env = { ...process.env, ...options.env };
  const root = options.root ?? PROJECT_ROOT;
  const RUNNER = path.join(root, "bin", "fetchml-keys");
  const child =
    options.terminalAnswer === undefined
      ? spawn(RUNNER, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true })
      : spawn("script", ["-qefc", [RUNNER, ...args].map(shellQuote).join(" "), "/dev/null"], {
          cwd: root,
          env,
          stdio: ["pipe", "pipe", "pipe"],
          detached: true,
        });
  if (child.pid) options.onStart?.(child.pid);
  let stdout = "";
  let stderr = "";
  let all = "";
  let answered = false;
  child.stdout!.on("data", (b: Buffer) => {
    stdout += b;
    all += b;
    if (options.terminalAnswer !== undefined && !answered && /\[y\/N\] /.test(all)) {
      answered = true;
      const answer = options.terminalAnswer;
      void (typeof answer === "string" ? Promise.resolve(answer) : answer()).then((a) => child.stdin!.write(`${a}\n`));
    }
  });
  child.stderr!.on("data", (b: Buffer) => {
    stderr += b;
    all += b;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      child.stdin?.end();
      resolve({ code, stdout, stderr, all });
    });
  });
}
