/**
 * Turns the engine's structured preview (its step events) into plain lines a reviewer can
 * read: "+ dave (researcher): new key", "~ bob: key rotated", "~ carol: analyst ->
 * researcher", "- erin: access revoked", plus the expiry warnings the program printed.
 * Works on public facts only (the User components' inputs, step kinds, warnings): it never
 * sees a key or hash, so it cannot print one.
 */

export interface StepEvent {
  op: string;
  urn: string;
  type: string;
  old?: { inputs?: Record<string, any> };
  new?: { inputs?: Record<string, any> };
}

const USER = "fetchml:index:User";
const KEY = "random:index/randomPassword:RandomPassword";

/** The last segment of a URN: the resource's name. */
function nameOf(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

export function summarizeAccess(steps: readonly StepEvent[], warnings: readonly string[] = []): string[] {
  const lines = new Map<string, string[]>();
  const add = (user: string, line: string) => lines.set(user, [...(lines.get(user) ?? []), line]);
  const created = new Set<string>();
  for (const step of steps) {
    if (step.type !== USER) continue;
    const user = nameOf(step.urn);
    const before = step.old?.inputs ?? {};
    const after = step.new?.inputs ?? {};
    if (step.op === "create") {
      created.add(user);
      add(user, `+ ${user} (${after.role}): new key${after.status === "suspended" ? " (suspended)" : ""}`);
    } else if (step.op === "delete") {
      add(user, `- ${user}: access revoked`);
    } else if (step.op === "update") {
      if (before.status !== after.status) {
        add(user, after.status === "suspended" ? `- ${user}: suspended (key kept)` : `+ ${user}: access restored`);
      }
      if (before.role !== after.role) add(user, `~ ${user}: ${before.role} -> ${after.role}`);
      const detail = accessDetail(before, after);
      if (detail) add(user, `~ ${user}: ${detail}`);
      if (before.delivery !== after.delivery) add(user, `~ ${user}: delivery ${before.delivery} -> ${after.delivery}`);
    }
  }
  for (const step of steps) {
    if (step.type !== KEY || !["replace", "create-replacement"].includes(step.op)) continue;
    const user = nameOf(step.urn).replace(/-key$/, "");
    if (!created.has(user) && !(lines.get(user) ?? []).some((l) => l.endsWith("key rotated"))) add(user, `~ ${user}: key rotated`);
  }
  const ordered = [...lines.keys()].sort().flatMap((user) => lines.get(user)!);
  return [...ordered, ...warnings.filter((w) => w.startsWith("! "))];
}

/** Admin flag, role labels or permissions changed beyond what the role change explains. */
function accessDetail(before: Record<string, any>, after: Record<string, any>): string | undefined {
  if (before.role !== after.role) return undefined;
  const parts: string[] = [];
  if (before.admin !== after.admin) parts.push(`admin ${before.admin} -> ${after.admin}`);
  if (JSON.stringify(before.roles) !== JSON.stringify(after.roles)) parts.push(`roles [${before.roles}] -> [${after.roles}]`);
  for (const perm of Object.keys({ ...before.permissions, ...after.permissions }).sort()) {
    const from = before.permissions?.[perm];
    const to = after.permissions?.[perm];
    if (from !== to) parts.push(`${perm} ${from} -> ${to}`);
  }
  return parts.length > 0 ? parts.join(", ") : undefined;
}
