/**
 * The one way to open a stack of this project through the Automation API, shared by the
 * runner and the end-to-end tests (so what the tests prove is what an admin runs):
 * LocalWorkspace on the project root (its Pulumi.yaml and stacks/), the engine from
 * ensureEngine, plugins and language host from choosePlugins. The runner runs index.ts
 * inline (no language host needed); `program: "local"` runs it as plain `pulumi` does,
 * through the Node.js language host, which is how the tests drive the plain path.
 *
 * Opening a stack never changes which stack Pulumi has selected (a setting of the admin's,
 * used by every later `pulumi config set`), and never creates one unless asked to.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { parse } from "yaml";
import { z } from "zod";
import { DEV_PASSPHRASE } from "../config/exposure";
import { stackFileName } from "../config/rawConfig";
// index.ts uses `export =`: with esModuleInterop the default import is the program function.
import program from "../index";
import { backendUrlProblem } from "./backend";
import { readFileIfExists } from "../lib/atomicFile";
import { closeVaultChecks } from "../program/vaultCheck";
import { CommandError } from "./commandError";
import { ensureEngine, type Engine } from "./engine";
import { PROJECT_NAME, PROJECT_ROOT } from "./paths";
import { choosePlugins, enginePath, type PluginChoice } from "./plugins";

/**
 * Options every `up` of this project gets (the runner's and the tests'). Deliberately NOT
 * `continueOnError`: with it, a failed step makes the program's dependent registrations
 * fail, and the engine then deletes what the program did not register, which runs the
 * auth writers' delete and takes users off a server (seen in the SSH e2e test). Without it
 * a failure stops the run and deletes nothing; steps already running still finish.
 */
export const UP_OPTIONS = {} as const;

/** The demo stack: created on first use, encrypted with its public passphrase. */
export const DEMO_STACK = "dev";

export class StackNotFound extends Error {}

export interface OpenStackOptions {
  stackName: string;
  /** Extra environment for the engine (and so for plugins and the commands they run). */
  env?: Record<string, string>;
  /** inline: the program runs in this process (the runner); local: as plain `pulumi up` runs it. */
  program?: "inline" | "local";
  /** Create the stack if it does not exist (it is never selected either way). */
  create?: boolean;
}

export interface OpenedStack {
  stack: Stack;
  workspace: LocalWorkspace;
  engine: Engine;
  plugins: PluginChoice[];
}

export function stackFilePath(stackName: string): string {
  return path.join(PROJECT_ROOT, stackFileName(stackName));
}

/** What is read of a stack file besides its config: the secrets provider it names, if any. */
const stackFileSettings = z.object({ secretsprovider: z.string().optional() });

/**
 * The secrets provider the stack file names (a cloud KMS URL), or undefined: none, no stack
 * file, or one that is not YAML of that shape (then the passphrase is what the engine uses).
 */
export function stackSecretsProvider(stackName: string): string | undefined {
  const text = readFileIfExists(stackFilePath(stackName));
  if (text === undefined) return undefined;
  try {
    const parsed = stackFileSettings.safeParse(parse(text));
    return parsed.success ? parsed.data.secretsprovider : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a confirmed plan was read from: the stack file and Pulumi.yaml (its `config:` is stack
 * config too), by path, as text (undefined: absent).
 */
export function reviewedFiles(stackName: string): Map<string, string | undefined> {
  return new Map([stackFilePath(stackName), path.join(PROJECT_ROOT, "Pulumi.yaml")].map((file) => [file, readFileIfExists(file)]));
}

/** The first of those files that changed since (relative to the checkout), or undefined. */
export function changedSince(reviewed: ReadonlyMap<string, string | undefined>): string | undefined {
  const changed = [...reviewed].find(([file, text]) => readFileIfExists(file) !== text);
  return changed && path.relative(PROJECT_ROOT, changed[0]);
}

/**
 * After "y": the update runs the program again, on the stack file and Pulumi.yaml as they are
 * by then. One changed while the question waited (a `git pull`, an editor) would be applied
 * unseen, so nothing is.
 */
export function assertUnchanged(reviewed: ReadonlyMap<string, string | undefined>, after = ""): void {
  const changed = changedSince(reviewed);
  if (changed === undefined) return;
  throw new CommandError(
    `${changed} changed while the question waited, so what was shown is not what up would do now; nothing applied${after}: run it again to see the new plan`,
  );
}

/** The stacks that have a stack file here. */
export function stackFiles(): string[] {
  return fs
    .readdirSync(path.join(PROJECT_ROOT, "stacks"))
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((name): name is string => !!name && !name.startsWith("e2e-"))
    .sort();
}

/** The engine's environment: offline plugins on PATH where needed, no update checks, the demo's passphrase for the demo. */
export function engineEnvironment(
  stackName: string | undefined,
  extra: Record<string, string>,
  plugins: PluginChoice[],
): Record<string, string> {
  const base = { ...process.env, ...extra } as Record<string, string>;
  const backend = backendUrlProblem(base.PULUMI_BACKEND_URL, base);
  if (backend) throw new CommandError(backend);
  const envVars: Record<string, string> = { ...extra, PATH: enginePath(plugins, base.PATH), PULUMI_SKIP_UPDATE_CHECK: "true" };
  // Each plugin is installed or offline: never reach for the network to fetch one (unless
  // the admin forced the real plugins, which the engine may then download).
  if (base.FETCHML_KEYS_PLUGINS !== "real") envVars.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
  if (stackName === DEMO_STACK && !base.PULUMI_CONFIG_PASSPHRASE && !base.PULUMI_CONFIG_PASSPHRASE_FILE) {
    envVars.PULUMI_CONFIG_PASSPHRASE = DEV_PASSPHRASE;
  }
  if (!base.PULUMI_BACKEND_URL) fs.mkdirSync(path.join(PROJECT_ROOT, ".pulumi-state"), { recursive: true });
  return envVars;
}

export async function openWorkspace(options: Omit<OpenStackOptions, "stackName" | "create"> & { stackName?: string }) {
  const engine = ensureEngine();
  const plugins = choosePlugins(path.dirname(engine.binary), { ...process.env, ...options.env });
  const envVars = engineEnvironment(options.stackName, options.env ?? {}, plugins);
  const pulumiCommand = await PulumiCommand.get({ root: engine.root });
  const workspace = await LocalWorkspace.create({
    workDir: PROJECT_ROOT,
    pulumiCommand,
    envVars,
    ...(options.program === "local" ? {} : { program, projectSettings: undefined }),
  });
  // Stack.select would run `pulumi stack select`: only make sure the stack is there.
  workspace.selectStack = async (name: string) => {
    const stacks = await workspace.listStacks();
    if (!stacks.some((s) => s.name === name)) {
      throw new StackNotFound(`no stack "${name}" in this backend (stacks: ${stacks.map((s) => s.name).join(", ") || "none"})`);
    }
  };
  // `pulumi stack init` selects the new stack: init it without that.
  workspace.createStack = async (name: string) => {
    await promisify(execFile)(engine.binary, ["stack", "init", name, "--no-select", "--non-interactive"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...workspace.envVars },
    });
  };
  return { workspace, engine, plugins };
}

export async function openStack(options: OpenStackOptions): Promise<OpenedStack> {
  const { workspace, engine, plugins } = await openWorkspace(options);
  // Not Stack.createOrSelect: it only creates on the SDK's own StackNotFoundError.
  if (options.create && !(await workspace.listStacks()).some((s) => s.name === options.stackName)) {
    await workspace.createStack(options.stackName);
  }
  const stack = await Stack.select(options.stackName, workspace);
  if (options.program !== "local") {
    // The program runs in this process, which outlives the up: a vault check's `bw serve` that
    // the vault step never got to (the run failed first) stops with the operation.
    const up = stack.up.bind(stack);
    stack.up = async (upOptions) => {
      try {
        return await up(upOptions);
      } finally {
        await closeVaultChecks();
      }
    };
  }
  return { stack, workspace, engine, plugins };
}

/** The stack Pulumi has selected here, if any (`pulumi stack select`). */
export async function selectedStack(workspace: LocalWorkspace): Promise<string | undefined> {
  return (await workspace.stack())?.name;
}

export { PROJECT_NAME };
