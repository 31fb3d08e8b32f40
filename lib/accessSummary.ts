/**
 * The access summary of a preview: the plan lines the program printed (lib/accessPlan.ts;
 * "+ dave (researcher): new key", "- legacy_admin: entry on ... : up removes it"), in the
 * order printed, plus what only the engine knows: a key it will replace for a reason stack
 * config does not show (`--replace`). Works on public text and step kinds only: it never sees
 * a key or hash, so it cannot print one. Whose key a step replaces is looked up by the key's
 * resource name (lib/keys.ts keyResourceName, the name the key is declared with), never
 * guessed from the shape of a name.
 */
import { keyResourceName } from "./keys";

export interface StepEvent {
  op: string;
  urn: string;
  type: string;
}

const KEY = "random:index/randomPassword:RandomPassword";
const PLAN_LINE = /^[+\-~!] /;

/** The last segment of a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`): the resource's name. */
function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** `users`: the users stack config declares (only a declared user's key can be replaced). */
export function summarizeAccess(diagnostics: readonly string[], steps: readonly StepEvent[] = [], users: readonly string[] = []): string[] {
  const lines = [...new Set(diagnostics.map((d) => d.trim()).filter((d) => PLAN_LINE.test(d)))];
  const keyOwners = new Map(users.map((user) => [keyResourceName(user), user]));
  for (const step of steps) {
    if (step.type !== KEY || !["replace", "create-replacement"].includes(step.op)) continue;
    const user = keyOwners.get(nameOf(step.urn));
    if (user === undefined) continue;
    const explained = lines.some((l) => l.startsWith(`~ ${user}: key rotated`) || l.startsWith(`+ ${user} (`));
    if (!explained) lines.push(`~ ${user}: key replaced (asked for with --replace)`);
  }
  return [...new Set(lines)];
}
