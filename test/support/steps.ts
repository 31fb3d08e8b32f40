/** Runs a step the way the command provider does: bin/fetchml-keys-step, stdin in, cwd = project. */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../cli/paths";

export interface StepRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startStep(
  step: string,
  request: unknown,
  options: { previousStdout?: string; env?: NodeJS.ProcessEnv; uid?: number } = {},
): { child: ChildProcess; done: Promise<StepRun> } {
  const env = { ...process.env, ...options.env };
  if (options.previousStdout !== undefined) env.PULUMI_COMMAND_STDOUT = options.previousStdout;
  const child = spawn(path.join(PROJECT_ROOT, "bin", "fetchml-keys-step"), [step], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b) => (stdout += b));
  child.stderr!.on("data", (b) => (stderr += b));
  child.stdin!.on("error", () => {});
  child.stdin!.end(typeof request === "string" ? request : JSON.stringify(request));
  const done = new Promise<StepRun>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runStep(
  step: string,
  request: unknown,
  options: { previousStdout?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<StepRun> {
  return startStep(step, request, options).done;
}
