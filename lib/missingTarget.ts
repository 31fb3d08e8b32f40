/**
 * A target file that does not exist is refused at preview unless its stack config says up may
 * create it (`createIfMissing`): FetchML reads one file, and a typo'd path would otherwise get
 * every entry while the real file lost them. Each refusal names the path, where stack config
 * sets it, and the fix; none suggests an option that would do what it prevents. Pure.
 */
import type { PreviousTarget } from "../program/outputs";

export interface MissingCheck {
  /** Resource name: "auth-config", "server-<name>". */
  name: string;
  label: string;
  /** Where stack config names the file ("authConfigPath", "servers[0].configPath"). */
  setting: string;
  createIfMissing: boolean;
  reading: { identity?: string; exists: boolean; unreachable?: string };
}

export function missingTargets(targets: readonly MissingCheck[], previous: readonly PreviousTarget[], stackFile: string): string[] {
  const problems: string[] = [];
  for (const target of targets) {
    const { reading } = target;
    if (reading.exists || reading.unreachable || !reading.identity || target.createIfMissing) continue;
    const server = /^(.*)\.configPath$/.exec(target.setting)?.[1];
    const create = server ? `createIfMissing: true in ${server}` : "fetchml-keys:createIfMissing: true";
    const before = previous.find((p) => p.name === target.name);
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
