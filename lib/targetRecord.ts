/**
 * The record this project keeps beside each auth config it manages
 * (`<dir>/.<file>.fetchml-keys`, mode 0600): which stack owns the file, which write step of
 * that stack last wrote it, the generation of what it wrote, whether a reload is still owed,
 * and the entries it manages. Names and numbers only, nothing secret.
 *
 * Why it exists: a command resource cannot see the file it wrote, so without this a hand
 * edit, a second stack, a replaced writer or a failed reload would all go unnoticed.
 */
import * as path from "node:path";
import { z } from "zod";
import { AdminError } from "./adminError";
import { printable, UNPRINTABLE_RULE } from "./printable";

export const TARGET_RECORD_FORMAT = 1;

/**
 * The largest generation a record may hold. nextGeneration() wraps after it, so no repair ever
 * writes a number this schema then rejects on every run (2^53 is not an exact JSON number).
 */
export const MAX_GENERATION = Number.MAX_SAFE_INTEGER;

/** The generation after `generation`: one more, or 1 again after MAX_GENERATION (never equal to it). */
export function nextGeneration(generation: number): number {
  return Number.isSafeInteger(generation) && generation >= 0 && generation < MAX_GENERATION ? generation + 1 : 1;
}

export const targetRecordSchema = z.strictObject({
  format: z.literal(TARGET_RECORD_FORMAT),
  /** `<organization>/<project>/<stack>` of the stack that owns the file. */
  stack: z.string().min(1).refine(printable, { error: UNPRINTABLE_RULE }),
  /** The id of the write step that owns it (a replaced writer's delete must not touch it). */
  writer: z.string().min(1).refine(printable, { error: UNPRINTABLE_RULE }),
  /** Bumped by every write that repairs drift, so a repaired target previews clean again. */
  generation: z.int().min(0).max(MAX_GENERATION),
  /** Set before the file is replaced, cleared once the reload succeeded. */
  reloadPending: z.boolean(),
  /** The entries of auth.api_keys this stack wrote. */
  managed: z.array(z.string().refine(printable, { error: UNPRINTABLE_RULE })),
  /**
   * The write step this one took the file over from (a --replace, a step moved here), until that
   * one's delete has run and cleared it. Still set at the next read, the replacement did not
   * finish (a run killed between the new step's write and the engine saving it): the step in
   * state may be the old one, which the next write makes the record name again.
   */
  replaced: z.string().min(1).refine(printable, { error: UNPRINTABLE_RULE }).optional(),
});

export type TargetRecord = z.infer<typeof targetRecordSchema>;

/**
 * How the plan says a write step's replacement did not finish (a record's `replaced`, a delivery
 * manifest's `# replaced`); the runner's destroy looks for these words before it goes on.
 */
export const UNFINISHED_REPLACEMENT = "did not finish (a run was interrupted)";

export function recordPath(configPath: string): string {
  return path.posix.join(path.posix.dirname(configPath), `.${path.posix.basename(configPath)}.fetchml-keys`);
}

export class TargetRecordError extends AdminError {}

/** The record's content, checked; a broken one is an error naming the file, never ignored. */
export function parseTargetRecord(text: string | undefined, where: string): TargetRecord | undefined {
  if (text === undefined) return undefined;
  const checked = checkTargetRecord(text);
  if ("problem" in checked) throw new TargetRecordError(`${where}: ${checked.problem}`);
  return checked.record;
}

/** The record, or what is wrong with it (words for a message, never its content). */
export function checkTargetRecord(text: string): { record: TargetRecord } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: "not valid JSON; move it away to let this stack take the file over" };
  }
  const parsed = targetRecordSchema.safeParse(json);
  if (!parsed.success) return { problem: `not a fetchml-keys record (${parsed.error.issues[0].message})` };
  return { record: parsed.data };
}

export function renderTargetRecord(record: TargetRecord): string {
  return JSON.stringify({ ...record, managed: [...record.managed].sort() }, null, 2) + "\n";
}
