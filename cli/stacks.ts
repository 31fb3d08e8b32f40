/**
 * Which stack a command runs on: the one `pulumi stack select` chose, else the demo stack;
 * its stack file read as the program reads it and the stack opened only when that file exists
 * (the demo stack is created on first use); and the `stacks` and `init` commands.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "./paths";
import { UserCommandError } from "./user";
import {
  DEMO_STACK,
  openStack,
  openWorkspace,
  selectedStack,
  StackNotFound,
  stackFilePath,
  stackFiles,
  stackSecretsProvider,
} from "./workspace";
import { ConfigError, settingsOf, StackFileError } from "../lib/stackFile";

export function checkStackFile(stackName: string): void {
  const file = stackFilePath(stackName);
  if (!fs.existsSync(file)) return; // existingStack says so, with the stacks there are
  try {
    settingsOf(fs.readFileSync(file, "utf8"));
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StackFileError)
      throw new UserCommandError(`${path.relative(PROJECT_ROOT, file)}: ${e.message}`);
    throw e;
  }
}

/** The stack `pulumi stack select` chose here; the demo stack when none is. */
export async function defaultStack(): Promise<string> {
  try {
    const { workspace } = await openWorkspace({});
    return (await selectedStack(workspace)) ?? DEMO_STACK;
  } catch {
    return DEMO_STACK;
  }
}

/** An existing stack, with its file; only the demo stack is created on first use. */
export async function existingStack(stackName: string) {
  if (!fs.existsSync(stackFilePath(stackName))) {
    throw new UserCommandError(
      `no stack file ${path.relative(PROJECT_ROOT, stackFilePath(stackName))} (stacks here: ${stackFiles().join(", ") || "none"}); ` +
        `to create stack ${stackName}: npm run -s keys -- init ${stackName}`,
    );
  }
  if (stackName === DEMO_STACK) prepareDemo();
  try {
    return { opened: await openStack({ stackName, create: stackName === DEMO_STACK }) };
  } catch (e) {
    if (e instanceof StackNotFound) throw new UserCommandError(`${e.message}; to create it: npm run -s keys -- init ${stackName}`);
    throw e;
  }
}

/**
 * A stack name as Pulumi takes it (letters, digits, '-', '_', '.'; at most 100), said before it
 * becomes a path (stacks/Pulumi.<stack>.yaml) or a hint to run `init` with it.
 */
export function assertStackName(name: string, given: string): void {
  if (/^[A-Za-z0-9_.-]{1,100}$/.test(name) && name !== "." && name !== "..") return;
  throw new UserCommandError(
    `${given} ${JSON.stringify(name)}: a stack name holds only letters, digits, '-', '_' and '.' (at most 100); \`npm run -s keys -- stacks\` lists the stacks here`,
  );
}

export async function stacksCommand(command: string, args: string[]): Promise<number> {
  if (command === "init") assertStackName(args[0] ?? "", "init");
  const { workspace } = await openWorkspace(command === "init" ? { stackName: args[0] } : {});
  if (command === "init") {
    const name = args[0];
    if ((await workspace.listStacks()).some((s) => s.name === name)) throw new UserCommandError(`stack ${name} already exists`);
    // Said before the engine would ask for "stack ?'s passphrase" where no one can answer.
    const env = { ...process.env, ...workspace.envVars };
    if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE && !stackSecretsProvider(name)) {
      throw new UserCommandError(
        `init ${name}: no passphrase to encrypt stack ${name}'s secrets with; set PULUMI_CONFIG_PASSPHRASE_FILE (or ` +
          "PULUMI_CONFIG_PASSPHRASE) to the passphrase every admin and CI of this stack will use, then run it again",
      );
    }
    await workspace.createStack(name);
    console.log(
      `created stack ${name}; its settings go in ${path.relative(PROJECT_ROOT, stackFilePath(name))} (see README, "Stack config reference")`,
    );
    return 0;
  }
  const selected = await selectedStack(workspace);
  const inBackend = new Set((await workspace.listStacks()).map((s) => s.name));
  for (const name of [...new Set([...stackFiles(), ...inBackend])].filter((n) => !n.startsWith("e2e-")).sort()) {
    const where = [
      fs.existsSync(stackFilePath(name)) ? "stack file" : "no stack file",
      inBackend.has(name) ? "in the backend" : "not created yet",
    ];
    console.log(`${name === selected ? "*" : " "} ${name.padEnd(16)} ${where.join(", ")}`);
  }
  return 0;
}

/**
 * The demo stack's merge target is a copy of the example server config (comments and
 * other settings included), made on first use so the tracked example never holds hashes.
 */
function prepareDemo(): void {
  const target = path.join(PROJECT_ROOT, "examples", "out", "fetchml-server.yaml");
  if (fs.existsSync(target)) return;
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.copyFileSync(path.join(PROJECT_ROOT, "examples", "fetchml-server.yaml"), target);
  fs.chmodSync(target, 0o600);
  console.error(`fetchml-keys: dev stack: copied examples/fetchml-server.yaml to ${path.relative(PROJECT_ROOT, target)}`);
}
