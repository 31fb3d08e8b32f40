/**
 * The auth config steps, for one target (a local file or a server over SSH):
 *   auth-revoke  take out every entry not kept (before, and never waiting on, Bitwarden)
 *   auth-write   make auth.api_keys what stack config says (after the vault has the keys)
 *   auth-remove  the write step's delete: take this stack's entries out again
 * Each reads the target, merges with the same code, replaces the file atomically (merging
 * again if someone changed it meanwhile), keeps the target's record, and reloads the server
 * when the file changed or a reload is still owed. Prints usernames only.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { type ApiKeyEntry, apiKeyEntry } from "../lib/authSection";
import { type AuthEditResult, mergeAuthConfig, removeAuthEntries } from "../lib/mergeAuthConfig";
import { readApiKeys } from "../lib/serverConfig";
import {
  checkTargetRecord,
  MAX_GENERATION,
  nextGeneration,
  parseTargetRecord,
  renderTargetRecord,
  TARGET_RECORD_FORMAT,
  type TargetRecord,
} from "../lib/targetRecord";
import { closedMode, openToOthers, type TargetFiles, type TargetIO } from "../targets/io";
import { openTarget } from "../targets/open";
import { type TargetSpec, targetSpec } from "../targets/spec";
import { SafeError, say } from "./io";
import { plainName, previousResult, stackName } from "./protocol";

/** auth-revoke's request, before anything touches Bitwarden: every entry not kept leaves the target. */
export const authRevokeRequest = z.strictObject({
  /** The owner the target's record must name. */
  stack: stackName,
  target: targetSpec,
  /** Entries that may stay: active declared users and preserved entries. */
  keep: z.array(plainName),
});
export type AuthRevokeRequest = z.infer<typeof authRevokeRequest>;

/** auth-write's (and auth-remove's) request: the full auth.api_keys this stack wants on the target, plus the entries it leaves alone. */
export const authWriteRequest = z.strictObject({
  stack: stackName,
  target: targetSpec,
  entries: z.array(z.tuple([plainName, apiKeyEntry])),
  preserve: z.array(plainName),
  /**
   * The record generation after this write, from the program's reading of the target (the same
   * number the record holds); null when the program could not reach the target: the step takes
   * the one after the record's.
   */
  generation: z.int().min(0).max(MAX_GENERATION).nullable(),
});
export type AuthWriteRequest = z.infer<typeof authWriteRequest>;

/** Printed by auth-write; given back to its update and delete (PULUMI_COMMAND_STDOUT). */
export const authWriteResult = z.strictObject({ writer: plainName });
export type AuthWriteResult = z.infer<typeof authWriteResult>;

const ATTEMPTS = 5;

/** The writer a record gets from a revocation on a file no write step has written yet. */
const NO_WRITER = "none";

export async function authRevoke(request: AuthRevokeRequest): Promise<void> {
  const keep = new Set(request.keep);
  await withTarget(request.target, async (io) => {
    await editUntilStable(io, request.stack, (files, record) => {
      const gone = [...namesIn(files, io.label)].filter((name) => !keep.has(name));
      const result = removeAuthEntries(files.config ?? "", gone, io.label);
      const next: TargetRecord = {
        ...(record ?? {
          format: TARGET_RECORD_FORMAT,
          stack: request.stack,
          writer: NO_WRITER,
          generation: 0,
          reloadPending: false,
          managed: [],
        }),
        managed: (record?.managed ?? []).filter((name) => keep.has(name)),
      };
      // Not "REVOKED": this step also takes off suspended users, whose key is kept.
      return { result, next, verb: "removed" };
    });
  });
}

export async function authWrite(request: AuthWriteRequest, previousStdout: string | undefined): Promise<AuthWriteResult> {
  // The id stays the same across updates; a new resource (a replacement) gets a new one.
  const known = previousResult(authWriteResult, previousStdout)?.writer;
  const writer = known ?? randomUUID();
  const entries = new Map<string, ApiKeyEntry>(request.entries);
  await withTarget(request.target, async (io) => {
    await editUntilStable(io, request.stack, (files, record) => {
      const result = mergeAuthConfig(files.config, entries, request.preserve, io.label);
      const generation = request.generation ?? nextGeneration(record?.generation ?? 0);
      // A new step taking the file over from another of this stack's: named until that one's delete ran.
      const replaced =
        known === undefined && record?.stack === request.stack && record.writer !== writer && record.writer !== NO_WRITER
          ? record.writer
          : undefined;
      const next: TargetRecord = {
        format: TARGET_RECORD_FORMAT,
        stack: request.stack,
        writer,
        generation,
        reloadPending: record?.reloadPending ?? false,
        managed: [...entries.keys()],
        ...(replaced ? { replaced } : {}),
      };
      return { result, next, verb: "REVOKED" };
    });
  });
  return { writer };
}

export async function authRemove(request: AuthWriteRequest, previousStdout: string | undefined): Promise<void> {
  const writer = previousResult(authWriteResult, previousStdout)?.writer;
  await withTarget(request.target, async (io) => {
    const files = await io.read();
    const record = parseTargetRecord(files.record, `${io.label}: its record`);
    if (files.config === undefined) {
      say(`auth config ${io.label}: absent, nothing to remove`);
      if (record?.stack === request.stack && (!writer || record.writer === writer)) await io.writeRecord(undefined);
      return;
    }
    if (record && record.stack !== request.stack)
      return say(`auth config ${io.label}: now managed by stack ${record.stack}; nothing removed`);
    // A replaced writer (--replace, or a write step that moved) must not undo its successor; it
    // clears its name from the record, which says the replacement is done.
    if (record && record.writer !== writer) {
      if (writer && record.replaced === writer) {
        await io.writeRecord(renderTargetRecord({ ...record, replaced: undefined }));
      }
      return say(`auth config ${io.label}: written since by a newer step of this stack; nothing removed`);
    }
    const managed = record?.managed ?? request.entries.map(([name]) => name);
    await editUntilStable(io, request.stack, (current) => ({
      result: removeAuthEntries(current.config ?? "", managed, io.label),
      next: undefined,
      verb: "removed",
    }));
  });
}

async function withTarget(spec: TargetSpec, work: (io: TargetIO) => Promise<void>): Promise<void> {
  const io = await openTarget(spec);
  try {
    await work(io);
  } finally {
    await io.close();
  }
}

interface Edit {
  result: AuthEditResult;
  /** The record after this edit; undefined: remove it. */
  next: TargetRecord | undefined;
  /** How removals are worded in the log. */
  verb: string;
}

/**
 * Reads, plans, and writes until the file did not change between read and replace. The
 * record says "reload pending" before the file is replaced, and is cleared only after the
 * reload succeeded, so a failed or interrupted reload is retried by the next up.
 */
export async function editUntilStable(
  io: TargetIO,
  stack: string,
  plan: (files: TargetFiles, record: TargetRecord | undefined) => Edit,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const files = await io.read();
    const record = usableRecord(files, io.label);
    if (record && record.stack !== stack) {
      throw new SafeError(`${io.label} is managed by stack ${record.stack}; this stack (${stack}) will not touch it`);
    }
    const { result, next, verb } = plan(files, record);
    // A reload a previous run still owes (it failed, or the run was killed during it).
    const owed = record?.reloadPending ?? false;
    const changedMeanwhile = async (text: string) => {
      if ((await io.writeConfig(text, files.config)) !== "changed-meanwhile") return false;
      if (attempt >= ATTEMPTS)
        throw new SafeError(`${io.label}: changed by someone else ${ATTEMPTS} times while being written; run up again`);
      say(`auth config ${io.label}: changed by someone else while being written; merging again`);
      return true;
    };
    if (result.changed) {
      if (next) await io.writeRecord(renderTargetRecord({ ...next, reloadPending: true }));
      if (await changedMeanwhile(result.text)) continue;
      say(summarize(io.label, result, verb));
    } else {
      // The same text again: a write keeps the file's mode less any bits for others. No reload: FetchML reads the same.
      if (files.config !== undefined && openToOthers(files.mode)) {
        if (await changedMeanwhile(files.config)) continue;
        say(`auth config ${io.label}: closed to other accounts (mode ${files.mode!.toString(8)} -> ${closedMode(files.mode!)})`);
      }
      if (next && renderTargetRecord(next) !== (files.record ?? "")) await io.writeRecord(renderTargetRecord(next));
    }
    if (result.changed || owed) {
      await io.reload();
      if (!result.changed) say(`auth config ${io.label}: ran the reload a previous run still owed`);
      if (next) await io.writeRecord(renderTargetRecord({ ...next, reloadPending: false }));
    } else {
      say(`auth config ${io.label}: no change`);
    }
    if (!next && record) await io.writeRecord(undefined);
    return;
  }
}

/**
 * The record, or undefined when there is none or it cannot be used (not JSON, out of range): the
 * program lets a step run on a broken record only where this stack wrote it last run (anything
 * else it refuses at preview), so the step rewrites it from the request and the file.
 */
function usableRecord(files: TargetFiles, label: string): TargetRecord | undefined {
  if (files.record === undefined) return undefined;
  const checked = checkTargetRecord(files.record);
  if ("record" in checked) return checked.record;
  say(`auth config ${label}: its record is unusable (${checked.problem.split(";")[0]}); rewriting it`);
  return undefined;
}

/** The entries really on the target now: revoking a name that is absent is no change. */
function namesIn(files: TargetFiles, label: string): string[] {
  return [...readApiKeys(files.config, label).keys()];
}

function summarize(label: string, r: AuthEditResult, verb: string): string {
  const parts = [
    r.added.length > 0 ? `added ${r.added.join(", ")}` : "",
    r.updated.length > 0 ? `updated ${r.updated.join(", ")}` : "",
    r.removed.length > 0 ? `${verb} ${r.removed.join(", ")}` : "",
  ].filter(Boolean);
  return `auth config ${label}: ${parts.join("; ")}`;
}
