/**
 * The commands that run on an opened stack (preview, up, destroy, summary, refresh, cancel,
 * output, user), through the Automation API; a change asks first unless --yes.
 */
import * as fs from "node:fs";
import * as readline from "node:readline/promises";
import type { Stack } from "@pulumi/pulumi/automation";
import type { Options } from "./options";
import { pickOutput, readUsersOutput, usersTable } from "./outputs";
import { previewAccess, printAccess } from "./summary";
import { userCommand, UserCommandError } from "./user";
import { vaultDrift } from "./vaultDrift";
import { refuseUntrustedState, storedState } from "./stateTrust";
import { assertUnchanged, reviewedFiles, stackFilePath, UP_OPTIONS } from "./workspace";
import { DEFAULT_ITEM_PREFIX } from "../config/settings";
import { AdminError } from "../lib/adminError";
import { firstLine } from "../lib/childProcess";
import { UNFINISHED_REPLACEMENT } from "../lib/targetRecord";
import { now } from "../lib/keyPlan";
import { settingsOf } from "../lib/stackFile";

/** `common`: what every engine operation of this run gets (its output stream, colour, diff, targets, expect-no-changes). */
export async function runStackCommand(
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
      if (command === "destroy") await refuseUnfinished(stack, stackName);
      if (!options.yes) {
        const reviewed = reviewedFiles(stackName);
        if (command === "up") await stack.preview({ ...common, replace: options.replace });
        else await stack.destroy({ onOutput, target: options.target, previewOnly: true });
        if (!(await confirm(`Perform this ${command === "up" ? "update" : "destroy"} on stack ${stackName}?`))) {
          console.error("fetchml-keys: not confirmed; nothing changed");
          return 1;
        }
        if (command === "up") assertUnchanged(reviewed);
      }
      // Right before the engine, after any question: what is checked is what it then reads.
      await refuseUntrustedState(stack, stackName);
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
      const vault = await readVaultDrift(stack, stackName);
      if (vault.length > 0) console.log(`the vault differs from what the last run wrote there:\n${vault.join("\n")}`);
      return options["expect-no-changes"] && (drift.length > 0 || vault.length > 0 || access.refused) ? 1 : 0;
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
 * The vault compared with what the last run wrote there (cli/vaultDrift.ts), or why it could
 * not be read: a vault left unread is said, never taken for one that matches.
 */
async function readVaultDrift(stack: Stack, stackName: string): Promise<string[]> {
  const prefix = settingsOf(fs.readFileSync(stackFilePath(stackName), "utf8")).bitwarden?.itemPrefix ?? DEFAULT_ITEM_PREFIX;
  try {
    return await vaultDrift(await stack.outputs(), prefix);
  } catch (e) {
    if (!(e instanceof AdminError)) throw e;
    return [`! the vault was not read (${e.message}): items deleted or changed there by hand are not seen`];
  }
}

/**
 * A destroy after a killed `up --replace`: the engine had started a change it never recorded (a
 * write step taking a target over), and a destroy would run only the old step's delete, which
 * leaves its successor's entries on the target. The program's plan says so (a target's or the
 * delivery directory's record, or the file the last run wrote when the stack no longer names
 * it), so it is asked before every destroy; an up repairs it. A plan that cannot be read
 * refuses only while the state holds such an unrecorded change ("pending operations", which
 * plain `pulumi destroy` goes on past).
 */
async function refuseUnfinished(stack: Stack, stackName: string): Promise<void> {
  let unfinished: string[];
  try {
    const access = await previewAccess(stack);
    unfinished = [...(access.refused ? [access.refused] : []), ...access.lines].filter((line) => line.includes(UNFINISHED_REPLACEMENT));
  } catch (e) {
    const { pendingOperations } = await storedState(stack);
    unfinished = pendingOperations.length ? [`(the plan could not be read: ${firstLine((e as Error).message, 200)})`] : [];
  }
  if (unfinished.length === 0) return;
  throw new UserCommandError(
    `stack ${stackName}: a run was interrupted, and a destroy now would leave what it wrote on the targets:\n` +
      `${unfinished.join("\n")}\nRun \`npm run up\` first (npm run -s keys -- up --stack ${stackName}), then destroy`,
  );
}

/**
 * A --replace that names nothing in the stack is a typo or an unescaped `$`: said before any
 * work, rather than as the engine's error mid-preview (which `summary` would show as a refusal).
 */
export async function checkReplaceTargets(stack: Stack, stackName: string, urns: string[]): Promise<void> {
  const known = new Set((await storedState(stack)).resources.map((r) => r.urn));
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

/** Asks on the terminal; outside one, the answer is no. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
