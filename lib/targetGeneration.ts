/** The generation a target's record gets from this run's write step (components/authConfig.ts). Pure. */
import { openToOthers } from "../targets/io";
import type { TargetReading } from "../targets/read";
import type { TargetPlan } from "./accessPlanTargets";
import { type ApiKeyEntry, entryDigest } from "./authSection";
import { nextGeneration } from "./targetRecord";

/**
 * The target's record generation after this run's write: the same number while the target
 * is exactly what this stack wants (its entries, nothing else unpreserved, its record in
 * step, no replacement of its write step left unfinished, no reload owed, closed to other
 * accounts), one more when it is not. The write step records it; so a hand edit
 * shows as a change until an up repairs it, and then never again. Null for a target not
 * reached now: its write step, once it reaches it, takes the one after the record's.
 */
export function targetGeneration(
  reading: TargetReading,
  wanted: ReadonlyMap<string, ApiKeyEntry>,
  preserve: readonly string[],
  stack: string,
  recordLost?: TargetPlan["recordLost"],
  clock: () => number = Date.now,
): number | null {
  if (reading.unreachable) return null;
  // The record this stack wrote last run is gone or broken: the generation must still change
  // (so the write step runs and rewrites it), so it follows on from what last run passed; when
  // last run did not reach the target either, seconds since 1970 differ from any generation counted to.
  if (recordLost) return nextGeneration(recordLost.generation ?? Math.floor(clock() / 1000));
  const record = reading.record;
  const generation = record?.generation ?? 0;
  const kept = new Set(preserve);
  const names = [...wanted.keys()].sort();
  const onTarget = [...reading.entries.keys()].filter((n) => !kept.has(n)).sort();
  const clean =
    record !== undefined &&
    record.stack === stack &&
    record.replaced === undefined &&
    !record.reloadPending &&
    !openToOthers(reading.mode) &&
    sameList([...record.managed].sort(), names) &&
    sameList(onTarget, names) &&
    names.every((n) => reading.entries.get(n)?.digest === entryDigest(wanted.get(n)));
  return clean ? generation : nextGeneration(generation);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
