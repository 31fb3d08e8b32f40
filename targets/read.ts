/**
 * What is on a target now, read once per run by the program (at preview and at up), read-only.
 * Only names, the public access fields and a digest per entry leave this module: never a
 * hash, never the file's text.
 */
import { entryDigest } from "../lib/authSection";
import { readApiKeys } from "../lib/serverConfig";
import { checkTargetRecord, type TargetRecord } from "../lib/targetRecord";
import { openTarget } from "./open";
import type { TargetSpec } from "./spec";

export interface EntryFacts {
  /** entryDigest() of the entry as it is on the target (in memory only). */
  digest: string;
  admin?: unknown;
  roles?: unknown;
  permissions?: unknown;
}

export interface TargetReading {
  label: string;
  /** What the target really is; undefined when it could not be reached. */
  identity?: string;
  /** Where the file is on its machine (targets/io.ts TargetFiles.place): one file reached two ways compares equal. */
  place?: string;
  /** Why it could not be reached (a server that is down), if so. */
  unreachable?: string;
  exists: boolean;
  /** Entries of auth.api_keys now, by name (a Map: any name is a plain key). */
  entries: Map<string, EntryFacts>;
  record?: TargetRecord;
  /** Why the record beside the file cannot be used (not JSON, out of range), if so. */
  recordProblem?: string;
  /** The config file's permission bits (targets/io.ts TargetFiles.mode). */
  mode?: number;
}

/** Errors that mean "not reachable right now" rather than "wrong" (a wrong host key is wrong). */
const UNREACHABLE = /cannot connect|timed out|ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT|ENOTFOUND/i;

export async function readTarget(spec: TargetSpec, label: string): Promise<TargetReading> {
  let io;
  try {
    io = await openTarget(spec);
  } catch (e) {
    const message = (e as Error).message;
    if (spec.kind === "ssh" && UNREACHABLE.test(message)) return { label, unreachable: message, exists: false, entries: new Map() };
    throw e;
  }
  try {
    const identity = await io.identity();
    const files = await io.read();
    const entries = new Map<string, EntryFacts>();
    for (const [name, entry] of readApiKeys(files.config, label)) {
      const fields = entry && typeof entry === "object" ? (entry as Record<string, unknown>) : {};
      entries.set(name, { digest: entryDigest(entry), admin: fields.admin, roles: fields.roles, permissions: fields.permissions });
    }
    const exists = files.config !== undefined;
    // Whether a broken record is drift to repair (this stack wrote it last run) or a refusal is
    // the plan's decision (lib/accessPlanTargets.ts), not the reader's.
    const checked = files.record === undefined ? undefined : checkTargetRecord(files.record);
    const file = {
      ...(files.place === undefined ? {} : { place: files.place }),
      ...(files.mode === undefined ? {} : { mode: files.mode }),
    };
    if (checked && "problem" in checked) return { label, identity, ...file, exists, entries, recordProblem: checked.problem };
    return { label, identity, ...file, exists, entries, record: checked?.record };
  } finally {
    await io.close();
  }
}
