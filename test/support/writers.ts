/** Runs the writer executables the way the command provider does: stdin in, cwd = project. */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../cli/paths";

export interface WriterRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startWriter(script: "write-auth-config" | "write-secret-file", mode: string, input: unknown): { child: ChildProcess; done: Promise<WriterRun> } {
  const child = spawn(path.join(PROJECT_ROOT, "node_modules", ".bin", "tsx"), [`writers/${script}.ts`, mode], {
    cwd: PROJECT_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b) => (stdout += b));
  child.stderr!.on("data", (b) => (stderr += b));
  child.stdin!.on("error", () => {});
  child.stdin!.end(typeof input === "string" ? input : JSON.stringify(input));
  const done = new Promise<WriterRun>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runWriter(script: "write-auth-config" | "write-secret-file", mode: string, input: unknown): Promise<WriterRun> {
  return startWriter(script, mode, input).done;
}
