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
import { ConfigError } from "../config/settings";
import { replaceFile } from "../lib/atomicFile";
import { now } from "../lib/keyPlan";
import { editStackFile, StackFileError, type UserEdit } from "../lib/stackFile";
import type { Options } from "./main";
import { pickOutput, usersTable } from "./outputs";
import { PROJECT_ROOT } from "./paths";
import { type AccessPreview, printAccess } from "./summary";
import { stackFilePath, UP_OPTIONS } from "./workspace";

export class UserCommandError extends Error {}

export interface UserContext {
  stack: Stack;
  stackName: string;
  onOutput: (text: string) => void;
  previewAccess: (stack: Stack) => Promise<AccessPreview>;
  confirm: (question: string) => Promise<boolean>;
  printUserCounts: (stack: Stack) => Promise<void>;
}

export async function userCommand(args: string[], options: Options, ctx: UserContext): Promise<number> {
  const [verb, name] = args;
  if (verb === "list") return list(ctx.stack, options);
  if (!name) throw new UserCommandError(`user ${verb}: which user?`);
  if (verb === "handover") return handover(ctx.stack, name, options);
  const edit = userEdit(verb, name, options);
  const file = stackFilePath(ctx.stackName);
  const before = fs.readFileSync(file, "utf8");
  let after: string;
  try {
    after = editStackFile(before, edit);
  } catch (e) {
    if (e instanceof StackFileError || e instanceof ConfigError)
      throw new UserCommandError(`${path.relative(PROJECT_ROOT, file)}: ${e.message}`);
    throw e;
  }
  fs.writeFileSync(file, after);
  console.error(`fetchml-keys: ${path.relative(PROJECT_ROOT, file)}: ${describe(edit)}`);
  let applied = false;
  try {
    const access = await ctx.previewAccess(ctx.stack);
    printAccess(access);
    if (access.refused) return 1;
    if (options["no-up"]) {
      applied = true; // the edit stays, for review
      console.error("fetchml-keys: stack file edited; nothing applied (--no-up)");
      return 0;
    }
    if (!options.yes && !(await ctx.confirm(`Apply this to stack ${ctx.stackName}?`))) {
      console.error("fetchml-keys: not confirmed; the stack file is as it was, nothing changed");
      return 1;
    }
    applied = true;
    await ctx.stack.up({ ...UP_OPTIONS, onOutput: ctx.onOutput, suppressOutputs: true });
    await ctx.printUserCounts(ctx.stack);
    return 0;
  } finally {
    // Refused, not confirmed, or the preview failed: the file is put back as it was. (A
    // failed up keeps the edit: it is what the admin asked for, and the next up retries it.)
    if (!applied) fs.writeFileSync(file, before);
  }
}

function userEdit(verb: string, name: string, options: Options): UserEdit {
  switch (verb) {
    case "add":
      if (!options.role) throw new UserCommandError("user add: --role is required (admin, researcher or analyst)");
      return { kind: "add", name, role: options.role, ...(options.delivery ? { delivery: options.delivery } : {}) };
    case "rotate":
    case "suspend":
    case "resume":
    case "remove":
      return { kind: verb, name };
  }
  throw new UserCommandError(`user: unknown action "${verb}" (expected list, add, rotate, suspend, resume, remove or handover)`);
}

function describe(edit: UserEdit): string {
  switch (edit.kind) {
    case "add":
      return `added ${edit.name} (${edit.role}${edit.delivery ? `, ${edit.delivery}` : ""})`;
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
  const users = ((await stack.outputs()).users?.value ?? {}) as Record<string, never>;
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
    const out = path.resolve(options.out);
    if (fs.existsSync(out)) throw new UserCommandError(`${out} exists; choose a new file (it is created 0600)`);
    replaceFile(out, mlConfig, { expected: undefined });
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
