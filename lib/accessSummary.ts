/**
 * The access summary of a preview: the plan lines the program printed (lib/accessPlan.ts;
 * "+ dave (researcher): new key", "- legacy_admin: entry on ... : up removes it"), in the
 * order printed, plus what only the engine knows: a key it will create, replace or delete for
 * a reason stack config does not show (`--replace`, a key renamed in the code). Works on public
 * text and step kinds only: it never sees a key or hash, so it cannot print one. Whose key a
 * step touches is looked up by the key's resource name (lib/keys.ts keyResourceName, the name
 * the key is declared with), never guessed from the shape of a name.
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

/** What the engine does to a key, as a person reads it; steps that keep it or are the second half of a replace are absent. */
const KEY_OPS: Readonly<Record<string, string>> = {
  create: "creates",
  replace: "replaces",
  "create-replacement": "replaces",
  delete: "deletes",
};

/**
 * `users`: the users stack config declares. Every key the engine creates, replaces or deletes
 * is in the summary: explained by a plan line (a new user, a rotation, a revocation), or else
 * said here, because stack config does not show it: `--replace`, or a key that is no longer in
 * state under the name the code gives it (a resource renamed in a pull request recreates every
 * key, and the plan, which reads stack config, cannot see that).
 */
export function summarizeAccess(diagnostics: readonly string[], steps: readonly StepEvent[] = [], users: readonly string[] = []): string[] {
  const lines = [...new Set(diagnostics.map((d) => d.trim()).filter((d) => PLAN_LINE.test(d)))];
  const keyOwners = new Map(users.map((user) => [keyResourceName(user), user]));
  const said = (prefix: string) => lines.some((l) => l.startsWith(prefix));
  const revokedKeys = new Set(lines.flatMap((l) => /^- (\S+): access revoked$/.exec(l)?.slice(1).map(keyResourceName) ?? []));
  for (const step of steps) {
    const does = KEY_OPS[step.op];
    if (step.type !== KEY || !does) continue;
    const name = nameOf(step.urn);
    const user = keyOwners.get(name);
    if (user !== undefined && does === "replaces") {
      if (!said(`~ ${user}: key rotated`) && !said(`+ ${user} (`)) lines.push(`~ ${user}: key replaced (asked for with --replace)`);
    } else if (user !== undefined && does === "creates") {
      if (!said(`+ ${user} (`))
        lines.push(`~ ${user}: new key (none in state under the name ${name}: renamed in the code, or removed from state?)`);
    } else if (!(does === "deletes" && revokedKeys.has(name))) {
      lines.push(`! key ${name}: the engine ${does} it, and stack config does not say why (renamed in the code, or changed in state?)`);
    }
  }
  return [...new Set(lines)];
}
