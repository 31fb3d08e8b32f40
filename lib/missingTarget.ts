/**
 * A target file that does not exist is refused at preview unless its stack config says up may
 * create it (`createIfMissing`): FetchML reads one file, and a typo'd path would otherwise get
 * every entry while the real file lost them. Each refusal names the path, where stack config
 * sets it, and the fix; none suggests an option that would do what it prevents. Pure.
 */
import type { AuthTarget } from "../config/targets";
import { type PreviousTarget, recordedResourceName } from "../program/outputs";
import type { TargetReading } from "../targets/read";

/** A target from stack config (config/targets.ts), its label, and what its reading found. */
export type MissingCheck = Pick<AuthTarget, "resourceName" | "setting" | "createIfMissing"> & {
  label: string;
  reading: Pick<TargetReading, "identity" | "exists" | "unreachable">;
};

export function missingTargets(targets: readonly MissingCheck[], previous: readonly PreviousTarget[], stackFile: string): string[] {
  const problems: string[] = [];
  for (const target of targets) {
    const { reading } = target;
    if (reading.exists || reading.unreachable || !reading.identity || target.createIfMissing) continue;
    const server = /^(.*)\.configPath$/.exec(target.setting)?.[1];
    const create = server ? `createIfMissing: true in ${server}` : "fetchml-keys:createIfMissing: true";
    const before = previous.find((p) => recordedResourceName(p) === target.resourceName);
    const head = `${target.setting}: ${target.label} does not exist`;
    if (before && before.identity !== reading.identity && before.managed.length > 0) {
      problems.push(
        `${head}, and at the last run this stack's entries (${before.managed.join(", ")}) were in ${before.label}. ` +
          `Check ${target.setting} in ${stackFile}: it must name the file FetchML reads (a typo would move every entry ` +
          `to a file FetchML never reads). If FetchML's config really moved there, copy it first ` +
          `(cp -p ${before.label} ${target.label}) and point FetchML at it; the next preview then shows the move.`,
      );
    } else {
      const gone = before && before.identity === reading.identity ? " (this stack wrote it at its last run: was it deleted?)" : "";
      problems.push(
        `${head}${gone}. Check ${target.setting} in ${stackFile}: it must name the file FetchML reads. ` +
          `If this stack is to create it, set ${create} there.`,
      );
    }
  }
  return problems;
}
