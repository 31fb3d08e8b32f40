/**
 * Direct share: each direct-delivery user's `~/.ml/config.toml` as a 0600 file in one
 * directory the admin hands files over from (the seed's "no password manager" path).
 *   delivery-write   write what changed, remove files of users no longer delivered this way
 *   delivery-remove  remove every file this stack wrote there
 * The directory must be this user's own, closed to others, and not under a directory others
 * may write to (unless sticky), and no file in it may belong to someone else: a key is never
 * written where another local user could read it or swap the file. A manifest beside the
 * files lists the ones this stack owns (names only), the stack and the write step that wrote
 * them: a replaced step's delete (`--replace`, a directory spelled another way) finds the files
 * taken over by its successor and removes nothing, and another stack's step neither writes nor
 * removes anything there (the program refuses such a directory first, at preview).
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { assertSafePath } from "../lib/safePath";
import { readFileIfExists, removeFile, replaceFile } from "../lib/atomicFile";
import { SafeError, say } from "./io";
import { z } from "zod";
import { plainName, previousResult, STACK_NAME, stackName } from "./protocol";

/** delivery-write's (and delivery-remove's) request. */
export const deliveryRequest = z.strictObject({
  /** The stack that delivers into `dir` (org/project/stack): recorded there, so that no other stack writes or removes its files. */
  stack: stackName,
  /** Absolute real directory for the ml config files (0700), one `<user>.toml` (0600) per user. */
  dir: z.string().min(1),
  files: z.array(z.tuple([plainName, z.string()])),
  /** Bumped by the program when a delivered file is missing or changed: drift is a change, repaired once. */
  generation: z.int().min(0),
});
export type DeliveryRequest = z.infer<typeof deliveryRequest>;

/** Printed by delivery-write: the files it owns (their names only) and its id, given back to its update and delete. */
export const deliveryResult = z.strictObject({ files: z.array(plainName), writer: plainName });
export type DeliveryResult = z.infer<typeof deliveryResult>;

export const MANIFEST = ".fetchml-keys-delivery";

export function deliveryWrite(request: DeliveryRequest, previousStdout?: string): DeliveryResult {
  // The id stays the same across updates; a new resource (a replacement) gets a new one.
  const known = previousResult(deliveryResult, previousStdout)?.writer;
  const writer = known ?? randomUUID();
  const dir = safeDirectory(request.dir, true);
  const wanted = new Map(request.files.map(([name, content]) => [`${name}.toml`, content]));
  const manifest = parseManifest(readFileIfExists(path.join(dir, MANIFEST)));
  if (manifest?.stack && manifest.stack !== request.stack) throw new SafeError(otherStack(dir, manifest.stack, "nothing was written"));
  const owned = manifest?.files ?? [];
  // A new step taking the directory over from another: named until that one's delete ran.
  const replaced = known === undefined && manifest?.writer && manifest.writer !== writer ? manifest.writer : undefined;
  for (const [file, content] of wanted) {
    const full = path.join(dir, file);
    const current = ownFileContent(full);
    if (current === content) continue;
    replaceFile(full, content, { unchecked: true });
    say(`${current === undefined ? "wrote" : "updated"} ${full}`);
  }
  for (const file of owned) {
    if (!wanted.has(file) && removeFile(path.join(dir, file))) say(`removed ${path.join(dir, file)}`);
  }
  const files = [...wanted.keys()].sort();
  writeManifest(dir, { stack: request.stack, files, writer, replaced });
  return { files, writer };
}

export function deliveryRemove(request: DeliveryRequest, previousStdout?: string): void {
  if (!fs.existsSync(request.dir)) return say(`${request.dir}: absent, nothing to remove`);
  const dir = safeDirectory(request.dir, false);
  const writer = previousResult(deliveryResult, previousStdout)?.writer;
  const manifest = parseManifest(readFileIfExists(path.join(dir, MANIFEST)));
  if (manifest?.stack && manifest.stack !== request.stack) return say(otherStack(dir, manifest.stack, "nothing removed"));
  if (manifest && manifest.writer !== writer) {
    // Its successor's: this step's delete says the replacement is done.
    if (writer && manifest.replaced === writer)
      writeManifest(dir, { stack: manifest.stack ?? request.stack, files: manifest.files, writer: manifest.writer! });
    return say(`${dir}: written since by a newer delivery step of this stack; nothing removed`);
  }
  for (const file of manifest?.files ?? []) if (removeFile(path.join(dir, file))) say(`removed ${path.join(dir, file)}`);
  removeFile(path.join(dir, MANIFEST));
}

/** Why a stack keeps out of a directory another stack delivers into (the step's and the plan's words). */
export function otherStack(dir: string, stack: string, outcome: string): string {
  return (
    `deliveryDir ${dir}: stack ${stack} delivers into it (its ${MANIFEST} says so), and two stacks there would overwrite and ` +
    `remove each other's files; ${outcome}. Give each stack its own deliveryDir`
  );
}

interface Manifest {
  /** The stack that delivers here; absent in a manifest 1.0.0 wrote. */
  stack?: string;
  files: string[];
  writer?: string;
  /** The step this one took the directory over from, until that one's delete has run (an unfinished replacement while set). */
  replaced?: string;
}

/** A manifest's file names and writer ids (`undefined`: there is none). */
export function parseManifest(text: string | undefined): Manifest | undefined {
  if (text === undefined) return undefined;
  const lines = text.split("\n");
  const id = (tag: string) => lines.map((line) => new RegExp(`^# ${tag} ([0-9a-f-]{36})$`).exec(line)?.[1]).find(Boolean);
  const writer = id("writer");
  const replaced = id("replaced");
  const stack = lines.map((line) => /^# stack (\S+)$/.exec(line)?.[1]).find((name) => name !== undefined && STACK_NAME.test(name));
  return {
    ...(stack ? { stack } : {}),
    files: lines.filter((line) => /^[a-z][a-z0-9._-]*\.toml$/.test(line)),
    ...(writer ? { writer } : {}),
    ...(replaced ? { replaced } : {}),
  };
}

function writeManifest(dir: string, { stack, files, writer, replaced }: Manifest & { stack: string }): void {
  const lines = [`# stack ${stack}`, `# writer ${writer}`, ...(replaced ? [`# replaced ${replaced}`] : []), ...files];
  replaceFile(path.join(dir, MANIFEST), lines.map((line) => `${line}\n`).join(""), { unchecked: true });
}

function safeDirectory(dir: string, create: boolean): string {
  if (!path.isAbsolute(dir)) throw new SafeError(`deliveryDir ${dir}: must be absolute`);
  const uid = process.getuid!();
  const parent = path.dirname(dir);
  const parentStat = fs.statSync(parent, { throwIfNoEntry: false });
  if (!parentStat) throw new SafeError(`deliveryDir ${dir}: its parent ${parent} does not exist`);
  if ((parentStat.mode & 0o002) !== 0 && (parentStat.mode & 0o1000) === 0) {
    throw new SafeError(`deliveryDir ${dir}: its parent ${parent} is writable by every user; choose a directory only you can write to`);
  }
  // Every directory on the way closed to other accounts (sshd's StrictModes rule): otherwise one
  // could swap the delivery directory for its own between this check and the writes.
  assertSafePath(dir, `deliveryDir ${dir}`, uid);
  if (create && !fs.existsSync(dir)) fs.mkdirSync(dir, { mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new SafeError(`deliveryDir ${dir}: is not a directory (a link is not followed)`);
  if (st.uid !== uid)
    throw new SafeError(`deliveryDir ${dir}: belongs to uid ${st.uid}, not to this user (uid ${uid}); refusing to put keys there`);
  if ((st.mode & 0o077) !== 0)
    throw new SafeError(`deliveryDir ${dir}: others have access (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`);
  return dir;
}

/** A file's content if it is this user's own regular file; refuses anything else in its place. */
function ownFileContent(file: string): string | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (!st.isFile()) throw new SafeError(`${file}: is not a regular file; refusing to write a key there`);
  if (st.uid !== process.getuid!())
    throw new SafeError(`${file}: belongs to uid ${st.uid}; refusing to write a key into another user's file`);
  return fs.readFileSync(file, "utf8");
}
