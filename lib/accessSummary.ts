/**
 * The access summary of a preview: the plan lines the program printed (lib/accessPlan.ts;
 * "+ dave (researcher): new key", "- legacy_admin: entry on ... : up removes it"), in the
 * order printed, plus what only the engine knows: a key it will replace for a reason stack
 * config does not show (`--replace`). Works on public text and step kinds only: it never sees
 * a key or hash, so it cannot print one.
 */

export interface StepEvent {
  op: string;
  urn: string;
  type: string;
}

const KEY = "random:index/randomPassword:RandomPassword";
const PLAN_LINE = /^[+\-~!] /;

/** The last segment of a URN: the resource's name. */
function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

export function summarizeAccess(diagnostics: readonly string[], steps: readonly StepEvent[] = []): string[] {
  const lines = [...new Set(diagnostics.map((d) => d.trim()).filter((d) => PLAN_LINE.test(d)))];
  for (const step of steps) {
    if (step.type !== KEY || !["replace", "create-replacement"].includes(step.op)) continue;
    const user = nameOf(step.urn).replace(/-key$/, "");
    const explained = lines.some((l) => l.startsWith(`~ ${user}: key rotated`) || l.startsWith(`+ ${user} (`));
    if (!explained) lines.push(`~ ${user}: key replaced (asked for with --replace)`);
  }
  return [...new Set(lines)];
}
