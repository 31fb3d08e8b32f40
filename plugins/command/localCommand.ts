/**
 * command:local:Command as pulumi-command 1.2 behaves: a change to
 * `triggers` replaces, any other input change is an update (runs `update`, else `create`),
 * delete runs the stored `delete`, non-zero exits fail with the command and its output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type * as provider from "@pulumi/pulumi/provider";
import { changedKeys, unwrap } from "../shared/properties";

export const LOCAL_COMMAND = "command:local:Command";

/** Commands running now: stopped when the engine goes away (main.ts). */
export const running = new Set<ChildProcess>();

export const INPUTS = [
  "create",
  "update",
  "delete",
  "stdin",
  "environment",
  "dir",
  "interpreter",
  "logging",
  "triggers",
  "addPreviousOutputInEnv",
  "assetPaths",
  "archivePaths",
] as const;

type Props = Record<string, unknown>;

export function inputsOf(props: Props): Props {
  return Object.fromEntries(INPUTS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
}

export function diff(olds: Props, news: Props): provider.DiffResult {
  const changed = changedKeys(INPUTS, olds, news);
  return { changes: changed.length > 0, replaces: changed.filter((k) => k === "triggers"), deleteBeforeReplace: false };
}

/** Where a command's output is streamed while it runs (the engine's log, in the plugin). */
export type LogSink = (text: string) => Promise<void>;

export async function create(inputs: Props, log?: LogSink): Promise<provider.CreateResult> {
  const id = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const script = unwrap(inputs.create);
  if (typeof script !== "string" || script === "") return { id, outs: { ...inputs } };
  return { id, outs: { ...inputs, ...(await run(script, inputs, undefined, log)) } };
}

export async function update(olds: Props, news: Props, log?: LogSink): Promise<provider.UpdateResult> {
  const script = unwrap(news.update) || unwrap(news.create);
  if (typeof script !== "string" || script === "") return { outs: { ...news } };
  return { outs: { ...news, ...(await run(script, news, olds, log)) } };
}

/** Delete replays what the last up stored: its command, environment, stdin and dir. */
export async function remove(props: Props, log?: LogSink): Promise<void> {
  const script = unwrap(props.delete);
  if (typeof script === "string" && script !== "") await run(script, props, props, log);
}

interface Output {
  stdout: string;
  stderr: string;
}

export async function run(script: string, inputs: Props, previous: Props | undefined, log?: LogSink): Promise<Output> {
  const p = unwrap(inputs);
  const interpreter: string[] = Array.isArray(p.interpreter) && p.interpreter.length > 0 ? p.interpreter : ["/bin/sh", "-c"];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...(p.environment ?? {}) };
  if (previous && p.addPreviousOutputInEnv !== false) {
    env.PULUMI_COMMAND_STDOUT = String(unwrap(previous.stdout) ?? "");
    env.PULUMI_COMMAND_STDERR = String(unwrap(previous.stderr) ?? "");
  }
  const logging: string = p.logging ?? "stdoutAndStderr";
  const logged: Promise<void>[] = [];
  const stream = (b: Buffer) => {
    if (log) logged.push(log(b.toString("utf8").replace(/\r?\n$/, "")));
  };
  const result = await new Promise<Output>((resolve, reject) => {
    const child = spawn(interpreter[0], [...interpreter.slice(1), script], {
      cwd: p.dir || process.cwd(),
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    running.add(child);
    child.on("exit", () => running.delete(child));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => {
      out.push(b);
      all.push(b);
      if (logging === "stdout" || logging === "stdoutAndStderr") stream(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      err.push(b);
      all.push(b);
      if (logging === "stderr" || logging === "stdoutAndStderr") stream(b);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const result = { stdout: trimNewline(Buffer.concat(out)), stderr: trimNewline(Buffer.concat(err)) };
      if (code === 0) resolve(result);
      else {
        const status = code === null ? `signal: ${signal}` : `exit status ${code}`;
        reject(new Error(`${status}: running ${JSON.stringify(script)}:\n${Buffer.concat(all).toString("utf8")}`));
      }
    });
    child.stdin.on("error", () => {}); // a command that ignores stdin may close it early
    const stdin = p.stdin;
    if (typeof stdin === "string" && stdin !== "") child.stdin.end(stdin);
    else child.stdin.end();
  }).finally(() => Promise.all(logged));
  return result;
}

function trimNewline(b: Buffer): string {
  return b.toString("utf8").replace(/\r?\n$/, "");
}
