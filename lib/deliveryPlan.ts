/**
 * Drift in the delivery directory, from what the program read there and the last run's
 * `delivery` output. Pure. The delivery step runs only when its request changes, so a file
 * deleted or edited by hand would stay so forever; instead the request carries a generation
 * number, one more than last run's while the directory is not what this stack wrote, so
 * drift is a change in preview (and fails --expect-no-changes), up repairs it, and the next
 * preview is quiet.
 */
import { createHash } from "node:crypto";
import type { DeliveryOutput } from "../program/outputs";
import { UNFINISHED_REPLACEMENT } from "./targetRecord";

/** What the program read in the delivery directory (program/delivery.ts). */
export interface DeliveryReading {
  /** The directory's real path (links followed); for one not created yet, its real parent and its name. */
  dir: string;
  /** The manifest's file names; undefined when there is none. */
  manifest?: string[];
  /** The stack the manifest says delivers here (none in a manifest 1.0.0 wrote). */
  stack?: string;
  /** fileDigest of each `<user>.toml` there now that is this user's regular file; absent: missing or not such a file. */
  digests: Map<string, string>;
  /** The manifest names a delivery step the writer took over from (steps/delivery.ts): that replacement did not finish. */
  unfinishedReplacement?: boolean;
}

/** The digest a reading keeps of a delivered file (in memory only: the file holds a key). */
export function fileDigest(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/** The last run's `delivery` output, with the directory it went to (its `settings.deliveryDir`). */
export type PreviousDelivery = DeliveryOutput & { dir: string };

/**
 * Lines for the plan that need no secret: delivered files that are gone, and a manifest that is
 * gone or no longer lists what the last run wrote (a change of the user list is not drift).
 */
export function deliveryLines(reading: DeliveryReading, previous: PreviousDelivery | undefined, settled: readonly string[]): string[] {
  if (previous?.dir !== reading.dir) return [];
  const lines = settled
    .filter((name) => !reading.digests.has(`${name}.toml`))
    .map((name) => `+ ${name}: delivery file ${reading.dir}/${name}.toml is missing (or not this user's file): up writes it again`);
  if (reading.manifest === undefined || !sameList(reading.manifest, previous.files))
    lines.push(`! ${reading.dir}: its list of delivered files is missing or changed: up writes it again`);
  if (reading.unfinishedReplacement)
    lines.push(
      `! ${reading.dir}: its list of delivered files says a replacement of the delivery step ${UNFINISHED_REPLACEMENT}: up writes it again, so that destroy takes the files off`,
    );
  return lines;
}

/** Users whose delivered file is there but not what this stack wrote (a hand edit); compared by digest. */
export function changedByHand(
  reading: DeliveryReading,
  previous: PreviousDelivery | undefined,
  settled: readonly string[],
  digestOf: (name: string) => string,
): string[] {
  if (previous?.dir !== reading.dir) return [];
  return settled.filter((name) => {
    const found = reading.digests.get(`${name}.toml`);
    return found !== undefined && found !== digestOf(name);
  });
}

/**
 * The generation for this run's request: last run's while every wanted file and the manifest
 * are as wanted (no replacement of the step left unfinished) (or the directory is new to this stack: the step writes everything anyway),
 * else one more (never past what the request schema takes).
 */
export function deliveryGeneration(
  reading: DeliveryReading,
  previous: PreviousDelivery | undefined,
  /** fileDigest of each file's wanted content, by file name. */
  wanted: ReadonlyMap<string, string>,
): number {
  const base = previous?.generation ?? 0;
  if (previous?.dir !== reading.dir) return base;
  const files = [...wanted.keys()].sort();
  const clean =
    !reading.unfinishedReplacement &&
    sameList(reading.manifest ?? [], files) &&
    files.every((file) => reading.digests.get(file) === wanted.get(file));
  if (clean) return base;
  return base >= Number.MAX_SAFE_INTEGER ? 1 : base + 1;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
