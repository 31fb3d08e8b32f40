/**
 * `user ...`: the everyday edits without hand-editing YAML. Each change edits the stack file
 * (lib/stackFile.ts: comments and order kept, checked with the program's own schema), shows
 * the access summary of the resulting preview, and asks before `up`; a refused confirmation
 * puts the file back as it was. `--no-up` stops after the summary (for a pull request).
 * `user list` and `user handover` only read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { ConfigError } from "../config/problems";
import { createNewFile, replaceFile } from "../lib/atomicFile";
import { now } from "../lib/keyPlan";
import { FileLocked, lockFile } from "../lib/fileLock";
import { newFileProblem } from "../lib/safePath";
import { editStackFile, lineDiff, settingsOf, StackFileError, type UserEdit } from "../lib/stackFile";
import { CommandError } from "./commandError";
import type { Options } from "./options";
import { pickOutput, readUsersOutput, usersTable } from "./outputs";
import { PROJECT_ROOT } from "./paths";
import { type AccessPreview, printAccess } from "./summary";
import { refuseUntrustedState } from "./stateTrust";
import { assertUnchanged, reviewedFiles, stackFilePath, UP_OPTIONS } from "./workspace";

export class UserCommandError extends CommandError {}

export interface UserContext {
  stack: Stack;
  stackName: string;
  onOutput: (text: string) => void;
  previewAccess: (stack: Stack) => Promise<AccessPreview>;
  confirm: (question: string) => Promise<boolean>;
  printUserCounts: (stack: Stack) => Promise<void>;
}

/** The user actions, and whether each names a user. */
export const USER_ACTIONS: Record<string, boolean> = {
  list: false,
  add: true,
  rotate: true,
  suspend: true,
  resume: true,
  remove: true,
  handover: true,
};

/** A mistyped action or a missing name, said before any work (and before asking for a terminal). */
export function userArgsProblem(args: string[]): string | undefined {
  const [verb, name] = args;
  if (!Object.hasOwn(USER_ACTIONS, verb)) return `user: unknown action "${verb}" (expected ${Object.keys(USER_ACTIONS).join(", ")})`;
  if (USER_ACTIONS[verb] && !name) return `user ${verb}: missing the user's name`;
  if (!USER_ACTIONS[verb] && name) return `user ${verb}: unexpected "${name}"`;
  return undefined;
}

export async function userCommand(args: string[], options: Options, ctx: UserContext): Promise<number> {
  const [verb, name] = args;
  const problem = userArgsProblem(args);
  if (problem) throw new UserCommandError(problem);
  if (verb === "list") return list(ctx.stack, options);
  if (verb === "handover") return handover(ctx.stack, name, options);
  const edit = userEdit(verb, name, options);
  const file = stackFilePath(ctx.stackName);
  const shown = path.relative(PROJECT_ROOT, file);
  // Held until this command is done, the question included: another user command waits for
  // nothing and is told so, rather than editing a file this one may still put back.
  let release: () => void;
  try {
    release = await lockFile(file);
  } catch (e) {
    if (e instanceof FileLocked)
      throw new UserCommandError(`${shown}: another fetchml-keys command is editing it; run this again once it has finished`);
    throw e;
  }
  try {
    return await editAndApply(file, shown, edit, options, ctx);
  } finally {
    release();
  }
}

async function editAndApply(file: string, shown: string, edit: UserEdit, options: Options, ctx: UserContext): Promise<number> {
  const before = fs.readFileSync(file, "utf8");
  let after: string;
  try {
    after = editStackFile(before, edit);
  } catch (e) {
    if (e instanceof StackFileError || e instanceof ConfigError) throw new UserCommandError(`${shown}: ${e.message}`);
    throw e;
  }
  // Atomic (a killed command leaves the old file or the new one, never an empty one), with the
  // file's own mode, and only over what was read.
  if (replaceFile(file, after, { expected: before, keepMode: true }) === "changed-meanwhile")
    throw new UserCommandError(`${shown} changed while this command was editing it; nothing written, run it again`);
  console.error(`fetchml-keys: ${shown}: ${describe(edit, after)}`);
  for (const line of lineDiff(before, after, shown)) console.error(line);
  let settled = false;
  /** Puts the file back, unless someone changed it since this edit: then it is left, and said so. */
  const putBack = (): boolean => {
    settled = true;
    if (replaceFile(file, before, { expected: after, keepMode: true }) === "written") return true;
    console.error(
      `fetchml-keys: ${shown} was changed by someone else after this command edited it; it is left as it is now (check it: this command's edit may still be in it)`,
    );
    return false;
  };
  const reviewed = reviewedFiles(ctx.stackName);
  try {
    const access = await ctx.previewAccess(ctx.stack);
    printAccess(access);
    if (access.refused) return 1;
    if (options["no-up"]) {
      settled = true; // the edit stays, for review
      console.error("fetchml-keys: stack file edited; nothing applied (--no-up)");
      return 0;
    }
    if (!options.yes && !(await ctx.confirm(`Apply this to stack ${ctx.stackName}?`))) {
      if (putBack()) console.error("fetchml-keys: not confirmed; the stack file is as it was, nothing changed");
      else console.error("fetchml-keys: not confirmed; nothing applied");
      return 1;
    }
    // Refused here, the edit is put back (below) like any refusal before the up.
    await refuseUntrustedState(ctx.stack, ctx.stackName);
    settled = true;
    // What was shown is this edit's file: one changed by someone else meanwhile is not applied unseen.
    if (!options.yes)
      assertUnchanged(reviewed, ", and the stack file is left as it is now (check it: this command's edit may still be in it)");
    await ctx.stack.up({ ...UP_OPTIONS, onOutput: ctx.onOutput, suppressOutputs: true });
    await ctx.printUserCounts(ctx.stack);
    return 0;
  } finally {
    // Refused, or the preview failed: the file is put back as it was. (A failed up keeps the
    // edit: it is what the admin asked for, and the next up retries it.)
    if (!settled) putBack();
  }
}

function userEdit(verb: string, name: string, options: Options): UserEdit {
  switch (verb) {
    case "add":
      return {
        kind: "add",
        name,
        ...(options.role ? { role: options.role } : {}),
        ...(options.delivery ? { delivery: options.delivery } : {}),
      };
    case "rotate":
    case "suspend":
    case "resume":
    case "remove":
      return { kind: verb, name };
  }
  throw new UserCommandError(`user: unknown action "${verb}" (expected list, add, rotate, suspend, resume, remove or handover)`);
}

function describe(edit: UserEdit, after: string): string {
  switch (edit.kind) {
    case "add": {
      const role = edit.role ?? `${settingsOf(after).users.find((u) => u.name === edit.name)?.role}, from defaults.role`;
      return `added ${edit.name} (${role}${edit.delivery ? `, ${edit.delivery}` : ""})`;
    }
    case "rotate":
      return `raised ${edit.name}'s rotation`;
    case "suspend":
      return `suspended ${edit.name}`;
    case "resume":
      return `resumed ${edit.name}`;
    case "remove":
      return `removed ${edit.name}`;
  }
}

async function list(stack: Stack, options: Options): Promise<number> {
  const users = readUsersOutput((await stack.outputs()).users?.value);
  console.log(options.json ? JSON.stringify(users, null, 2) : usersTable(users, now()).join("\n"));
  return 0;
}

/**
 * One user's ~/.ml/config.toml, to hand over: into a new file of this user's, 0600, or printed
 * once to a terminal. Never into a pipe or a log unless forced.
 */
async function handover(stack: Stack, name: string, options: Options): Promise<number> {
  const mlConfig = pickOutput(await stack.outputs(), ["mlConfigs", name]).value as string;
  if (options.out) {
    const out = path.resolve(callerDirectory(), options.out);
    if (!fs.statSync(path.dirname(out), { throwIfNoEntry: false })?.isDirectory())
      throw new UserCommandError(`${out}: the directory ${path.dirname(out)} does not exist; choose a file in an existing directory`);
    if (fs.lstatSync(out, { throwIfNoEntry: false })) throw new UserCommandError(exists(out));
    // The natural place, the user's own ~/.ml, is the user's to redirect (a link on the way):
    // the key would be made wherever that account chose, by root too.
    const unsafe = newFileProblem(out);
    if (unsafe)
      throw new UserCommandError(
        `${out}: ${unsafe}, so that account could choose where the file is made; nothing was written. ` +
          `Choose a file in a directory of yours (such as ./${name}.toml), then hand it over from there`,
      );
    try {
      // A new file only, made whole then linked in: whatever appears at the name meanwhile (in
      // /tmp, another account's file or link) makes it fail; nothing there is ever adopted.
      createNewFile(out, mlConfig);
    } catch (e) {
      // The temp file's name in errno's message would only confuse: name the file asked for.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw new UserCommandError(exists(out));
      if (code) throw new UserCommandError(`cannot write ${out} (${code}); choose a file in a directory you can write to`);
      throw e;
    }
    console.error(`fetchml-keys: wrote ${name}'s ml config to ${out} (0600); hand it over, then delete it`);
    return 0;
  }
  if (!process.stdout.isTTY && !options.force) {
    throw new UserCommandError(
      "user handover: standard output is not a terminal (a pipe or a log would keep the key); use --out FILE, or --force",
    );
  }
  process.stdout.write(mlConfig);
  return 0;
}

/** The directory the admin ran the command in (scripts/env.sh notes it before going to the checkout). */
function callerDirectory(): string {
  const dir = process.env.FETCHML_KEYS_CALLER_DIR;
  return dir && path.isAbsolute(dir) ? dir : process.cwd();
}

function exists(out: string): string {
  return `${out} exists; choose a new file (it is created 0600)`;
}
