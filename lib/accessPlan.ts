/**
 * What an up will change, in plain lines, from stack config, the last run's record and what
 * is on each target now (its reading). Pure, so every rule is tested without an engine. The
 * program prints these lines in every preview and up, the runner's `summary` collects them,
 * and the guard refuses a run that would take access from too many of a target's current key
 * holders, counting entries nobody declared too.
 *
 *   + dave (analyst): new key            - erin: access revoked         ~ bob: key rotated (rotation 1 -> 2)
 *   - legacy_admin: entry on /etc/fetchml/api.yaml is not declared by this stack (admin): up removes it
 *
 * Each part has its module: the user lines (accessPlanUsers.ts), the targets' lines, plans and
 * the guard (accessPlanTargets.ts), the stack-wide settings (accessPlanSettings.ts).
 */
import { planUserChanges, type UsersInput } from "./accessPlanUsers";
import { planTargets, type TargetPlan, type TargetsInput } from "./accessPlanTargets";
import { type SettingsInput, settingsLines } from "./accessPlanSettings";

export type AccessPlanInput = UsersInput & TargetsInput & SettingsInput;

export interface AccessPlan {
  /** Sorted lines: users first (by name), then targets. */
  lines: string[];
  targets: Map<string, TargetPlan>;
  /** Why this run must not go ahead (another stack's file, two targets that are one). */
  conflicts: string[];
  /** The refusal when too many would lose access (unless the admin allows it). */
  massRevocation?: string;
}

export function planAccess(input: AccessPlanInput): AccessPlan {
  const users = planUserChanges(input);
  const targets = planTargets(input, users.explained);
  const lines = [...users.lines, ...targets.lines, ...settingsLines(input), ...users.shared];
  const plan: AccessPlan = { lines, targets: targets.targets, conflicts: targets.conflicts };
  if (targets.massRevocation !== undefined) plan.massRevocation = targets.massRevocation;
  return plan;
}
