/**
 * The runner: `fetchml-keys <command> [options]` (npm run -s keys -- ..., or bin/fetchml-keys).
 * Runs the same program as `pulumi up` through the Automation API, streams the engine's
 * output, shows the engine's own message when something fails (and for known failures the
 * command to run next), and exits non-zero on failure, so it works where no Node.js language
 * host or provider plugins can be installed (see README, "How it runs").
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import type { Stack } from "@pulumi/pulumi/automation";
import { explainFailure } from "./errors";
import { humanOutput } from "./humanOutput";
import { type Options, parseOptions } from "./options";
import { isolationWarning } from "./isolation";
import { OutputError, pickOutput, readUsersOutput, usersTable } from "./outputs";
import { PROJECT_ROOT } from "./paths";
import { previewAccess, printAccess } from "./summary";
import { userArgsProblem, userCommand, UserCommandError } from "./user";
import { DEMO_STACK, openStack, openWorkspace, selectedStack, StackNotFound, stackFilePath, stackFiles, UP_OPTIONS } from "./workspace";
import { now } from "../lib/keyPlan";
import { ConfigError, settingsOf, StackFileError } from "../lib/stackFile";

const USAGE = `usage: fetchml-keys <command> [options]

commands:
  preview                 show what an up would change
  summary                 who gains, loses or changes access in the next up (plain lines)
  up                      apply the stack config (asks first unless --yes)
  destroy                 remove this stack's entries, files and keys (asks first unless --yes)
  refresh                 read the state back, then say where targets differ from stack config
  cancel                  release the lock of an up that was killed
  output [name [key]]     print stack outputs (secrets masked unless --show-secrets)
  user list               who has which access and key, since when (never a key)
  user add NAME [--role R] [--delivery direct|bitwarden]
                          (without --role: the stack's defaults.role)
  user rotate|suspend|resume|remove NAME
                          edit the stack file, show the access summary, then up (asks first
                          unless --yes; --no-up only edits and previews)
  user handover NAME [--out FILE] [--force]
                          one user's ~/.ml/config.toml: to a new 0600 file, or once to a terminal
  stacks                  the stacks here, and which one is selected
  init NAME               create a stack (its file stacks/Pulumi.NAME.yaml, its encryption salt)
  help                    this text

options:
  --stack, -s NAME        stack to use (default: the one \`pulumi stack select\` chose, else dev)
  --yes, -y               do not ask before up, destroy or a user change
  --diff                  show property-level diffs
  --target URN            limit the operation to this resource (repeatable)
  --replace URN           force replacement of this resource, e.g. one user's key (repeatable)
  --expect-no-changes     fail if the operation would change anything (CI drift check)
  --allow-mass-revocation let this up revoke more than maxRevokedPercent of a target's key holders
  --show-secrets          with output: print secret values
  --json                  with output, summary, user list: print JSON`;

/** Commands and how many positional arguments each takes (min, max). */
const COMMANDS: Record<string, [number, number]> = {
  preview: [0, 0],
  summary: [0, 0],
  up: [0, 0],
  destroy: [0, 0],
  refresh: [0, 0],
  cancel: [0, 0],
  output: [0, 2],
  user: [1, 2],
  stacks: [0, 0],
  init: [1, 1],
  help: [0, 0],
};

class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0].replace(/^Unknown option '([^']*)'.*$/, "unknown option $1"));
  }
  const [command = "help", ...args] = parsed.positionals;
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
  const [min, max] = COMMANDS[command];
  if (args.length < min || args.length > max) {
    throw new UsageError(args.length > max ? `${command}: unexpected "${args.slice(max).join(" ")}"` : `${command}: missing an argument`);
  }
  const userProblem = command === "user" ? userArgsProblem(args) : undefined;
  if (userProblem) throw new UsageError(userProblem);
  return { command: parsed.values.help ? "help" : command, args, options: parsed.values };
}

async function main(argv: string[]): Promise<number> {
  const { command, args, options } = parseCommandLine(argv);
  if (command === "help") {
    console.log(USAGE);
    return 0;
  }
  const warning = isolationWarning();
  if (warning) console.error(warning);
  const stream = humanOutput((s) => process.stdout.write(s));
  if (command === "stacks" || command === "init") {
    try {
      return await stacksCommand(command, args);
    } catch (e) {
      if (e instanceof UserCommandError) throw e;
      printFailure(e, command === "init" ? args[0] : "?");
      return 1;
    }
  }
  const stackName = options.stack ?? (await defaultStack());
  // For this run only: the program then lets an up revoke more than maxRevokedPercent.
  if (options["allow-mass-revocation"]) process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION = "1";
  // A command that would change something asks first; outside a terminal, say so before any work.
  const asks = (["up", "destroy"].includes(command) || (command === "user" && !["list", "handover"].includes(args[0]))) && !options.yes;
  if (asks && !options["no-up"] && !process.stdin.isTTY) {
    console.error("fetchml-keys: not a terminal, so nothing can be confirmed; pass --yes to apply without asking");
    return 1;
  }
  // Read the way the program reads it, before the engine: a bad stack file is said once, by
  // its path, rather than inside the engine's framing of a failed run (counts, "1 errored").
  if (["preview", "up", "summary", "refresh"].includes(command)) checkStackFile(stackName);
  const stack = await existingStack(stackName);
  const opened = stack.opened;
  console.error(
    `fetchml-keys: stack ${stackName}; engine pulumi ${opened.engine.version}; plugins ${opened.plugins.map((p) => `${p.name} (${p.source})`).join(", ")}`,
  );
  const common = {
    onOutput: stream.onOutput,
    color: "auto" as const,
    diff: options.diff,
    target: options.target,
    expectNoChanges: options["expect-no-changes"],
  };
  if (options.replace?.length) await checkReplaceTargets(opened.stack, stackName, options.replace);
  try {
    return await run(command, args, options, stack.opened.stack, stackName, common);
  } catch (e) {
    stream.flush();
    if (e instanceof UserCommandError || e instanceof OutputError) throw e;
    printFailure(e, stackName, stream.shown);
    return 1;
  } finally {
    stream.flush();
  }
}

async function run(
  command: string,
  args: string[],
  options: Options,
  stack: Stack,
  stackName: string,
  common: Record<string, unknown>,
): Promise<number> {
  const onOutput = common.onOutput as (s: string) => void;
  switch (command) {
    case "preview":
      await stack.preview({ ...common, replace: options.replace });
      return 0;
    case "up":
    case "destroy": {
      if (!options.yes) {
        if (command === "up") await stack.preview({ ...common, replace: options.replace });
        else await stack.destroy({ onOutput, target: options.target, previewOnly: true });
        if (!(await confirm(`Perform this ${command === "up" ? "update" : "destroy"} on stack ${stackName}?`))) {
          console.error("fetchml-keys: not confirmed; nothing changed");
          return 1;
        }
      }
      if (command === "destroy") {
        await stack.destroy({ onOutput, target: options.target });
        return 0;
      }
      // The users output is long; `user list` shows it as a table.
      await stack.up({ ...UP_OPTIONS, ...common, replace: options.replace, suppressOutputs: true });
      await printUserCounts(stack);
      return 0;
    }
    case "summary": {
      const access = await previewAccess(stack, { replace: options.replace, ...(options.diff ? { onOutput } : {}) });
      if (options.json) console.log(JSON.stringify(access, null, 2));
      else printAccess(access);
      return access.refused ? 1 : 0;
    }
    case "refresh": {
      await stack.refresh({ onOutput, expectNoChanges: options["expect-no-changes"] });
      // A command resource cannot be read back, so refresh alone never sees a hand edit on a
      // target; the program's own reading of every target does (a preview, changing nothing).
      const access = await previewAccess(stack);
      const drift = access.lines.filter((line) => !line.startsWith("!"));
      console.log(
        access.lines.length > 0 ? `targets and stack config differ:\n${access.lines.join("\n")}` : "targets are as stack config says",
      );
      return options["expect-no-changes"] && (drift.length > 0 || access.refused) ? 1 : 0;
    }
    case "cancel":
      await stack.cancel();
      console.error(`fetchml-keys: released the lock on stack ${stackName}`);
      return 0;
    case "output":
      return outputCommand(stack, args, options);
    case "user":
      return userCommand(args, options, { stack, stackName, onOutput, previewAccess, confirm, printUserCounts });
  }
  return 2;
}

/**
 * A --replace that names nothing in the stack is a typo or an unescaped `$`: said before any
 * work, rather than as the engine's error mid-preview (which `summary` would show as a refusal).
 */
async function checkReplaceTargets(stack: Stack, stackName: string, urns: string[]): Promise<void> {
  const state = await stack.exportStack();
  const resources = (state.deployment as { resources?: Array<{ urn: string }> } | undefined)?.resources ?? [];
  const known = new Set(resources.map((r) => r.urn));
  const unknown = urns.filter((urn) => !known.has(urn));
  if (unknown.length === 0) return;
  const key = [...known].find((urn) => urn.includes(":RandomPassword::"));
  throw new UserCommandError(
    `--replace: stack ${stackName} has no resource ${unknown.join(", ")}` +
      (key ? `; a user's key looks like ${key} (quote it: it contains $)` : ""),
  );
}

async function outputCommand(stack: Stack, args: string[], options: Options): Promise<number> {
  const outputs = await stack.outputs();
  if (args.length === 0) {
    const shown = Object.fromEntries(
      Object.entries(outputs).map(([name, o]) => [name, o.secret && !options["show-secrets"] ? "[secret]" : o.value]),
    );
    console.log(JSON.stringify(shown, null, 2));
    return 0;
  }
  const picked = pickOutput(outputs, args);
  if (picked.secret && !options["show-secrets"]) {
    console.log("[secret] (add --show-secrets to print it)");
    return 0;
  }
  if (args.join(".") === "users" && !options.json) {
    console.log(usersTable(readUsersOutput(picked.value), now()).join("\n"));
    return 0;
  }
  console.log(typeof picked.value === "string" && !options.json ? picked.value.trimEnd() : JSON.stringify(picked.value, null, 2));
  return 0;
}

async function printUserCounts(stack: Stack): Promise<void> {
  const users = readUsersOutput((await stack.outputs()).users?.value);
  const all = Object.values(users);
  const suspended = all.filter((u) => u.status === "suspended").length;
  console.log(`users: ${all.length - suspended} active, ${suspended} suspended (\`user list\` shows them)`);
}

function checkStackFile(stackName: string): void {
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
async function defaultStack(): Promise<string> {
  try {
    const { workspace } = await openWorkspace({});
    return (await selectedStack(workspace)) ?? DEMO_STACK;
  } catch {
    return DEMO_STACK;
  }
}

/** An existing stack, with its file; only the demo stack is created on first use. */
async function existingStack(stackName: string) {
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

async function stacksCommand(command: string, args: string[]): Promise<number> {
  const { workspace } = await openWorkspace(command === "init" ? { stackName: args[0] } : {});
  if (command === "init") {
    const name = args[0];
    if ((await workspace.listStacks()).some((s) => s.name === name)) throw new UserCommandError(`stack ${name} already exists`);
    // Said before the engine would ask for "stack ?'s passphrase" where no one can answer.
    const env = { ...process.env, ...workspace.envVars };
    if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE && !hasSecretsProvider(name)) {
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

/** A stack file that names its own secrets provider (a cloud KMS) needs no passphrase. */
function hasSecretsProvider(name: string): boolean {
  const file = stackFilePath(name);
  return fs.existsSync(file) && /^secretsprovider:/m.test(fs.readFileSync(file, "utf8"));
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

/** The engine's own message, once (not again where the streamed output showed it), and what to run next. */
function printFailure(e: unknown, stackName: string, shown: ReadonlySet<string> = new Set()): void {
  const explained = explainFailure((e as Error)?.message ?? String(e), stackName);
  for (const line of explained.errors) if (!shown.has(line.split("\n")[0])) console.error(`fetchml-keys: ${line}`);
  if (explained.hint) console.error(`fetchml-keys: next: ${explained.hint}`);
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`fetchml-keys: ${e.message} (commands and options: fetchml-keys help)`);
      process.exit(2);
    }
    if (e instanceof UserCommandError || e instanceof OutputError) {
      console.error(`fetchml-keys: ${e.message}`);
      process.exit(1);
    }
    printFailure(e, "?");
    process.exit(1);
  },
);
