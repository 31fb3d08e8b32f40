/**
 * The program's public stack outputs: what a run records and the next run reads back
 * (program/previousRun.ts) to plan against. One schema for both ends: index.ts builds its
 * outputs with these types, and the next run parses what it finds with the same schemas, so a
 * field renamed on one side cannot be silently missing on the other. Pure (zod only).
 *
 * They are state a later version reads too: rename or retype a field only with a version
 * that says so (README, "State format").
 */
import { z } from "zod";
import { DELIVERIES } from "../config/settings";

/** The `users` output, per user: who has which access, and the public facts of their key. */
export const userRecord = z.object({
  role: z.string(),
  admin: z.boolean(),
  roles: z.array(z.string()),
  permissions: z.record(z.string(), z.boolean()),
  delivery: z.enum(DELIVERIES),
  rotation: z.int().min(0),
  status: z.enum(["active", "suspended"]),
  fingerprint: z.string(),
  /** RFC 3339, UTC, whole seconds. */
  issuedAt: z.string(),
  maxKeyAgeDays: z.int().nullable(),
  autoRotations: z.int().min(0),
  /** The key's keeper (lib/keyPlan.ts): the next run compares its own with it. */
  keeper: z.string(),
  /** A Bitwarden user's vault collections; null for a direct user. */
  collectionIds: z.array(z.string()).nullable(),
});

/** The `authTargets` output, per target: what it really is and the entries this stack wrote there. */
export const targetOutput = z.object({
  /** The target's resource name ("auth-config", "server-<name>"): the key a run finds it by (see recordedResourceName). */
  name: z.string(),
  /** How a person reads it (targets/spec.ts targetLabel). */
  label: z.string(),
  /** What it really is (the real path, or the server's host key and real path). */
  identity: z.string(),
  managed: z.array(z.string()),
  /** The record generation passed to the write step; null when the target was not reached. */
  generation: z.int().min(0).nullable(),
  /** Runs after each change of the file; null for none. */
  reloadCommand: z.string().nullable(),
  /**
   * The user and group each write gives the file (a server's `owner`, `group`); null: it keeps
   * the owner it has. They decide who can read the hashes, so the next run names a change.
   * Added after 1.0.0, whose records lack them (read as not recorded: see previousTarget).
   */
  owner: z.string().nullable(),
  group: z.string().nullable(),
});

/** The `settings` output: where keys go and what users receive, stack-wide (public). */
export const settingsOutput = z.object({
  /**
   * The stack that wrote it (`org/project/stack`), as its steps and its vault items name it:
   * the runner's `refresh` reads the vault as that stack. Added after 1.0.0 (see previousSettings).
   */
  stack: z.string(),
  preserveEntries: z.array(z.string()),
  /** The delivery directory's real path (the only place it is recorded); null for none. */
  deliveryDir: z.string().nullable(),
  client: z.object({ workerHost: z.string(), workerPort: z.int(), apiUrl: z.string() }),
  bitwardenOrganization: z.string().nullable(),
  /**
   * The `bw` the vault step runs with the vault session (and, unattended, BW_PASSWORD and
   * BW_CLIENTSECRET): `bitwarden.cli` as configured; null for the project's pinned
   * @bitwarden/cli, or no vault. Added after 1.0.0, whose output lacks it (see previousSettings).
   */
  bitwardenCli: z.string().nullable(),
  /**
   * What the vault step names each item ("<itemPrefix> <user>") and does with a revoked user's
   * item (`bitwarden.onRevoke`); null without a vault. Added after 1.0.0 (see previousSettings).
   */
  bitwardenItemPrefix: z.string().nullable(),
  bitwardenOnRevoke: z.string().nullable(),
  /** `bitwarden.repair`; null without a vault. Added after 1.0.0 (read as 0 when absent). */
  bitwardenRepair: z.int().min(0).nullable(),
});

/** The `delivery` output: the generation the delivery step was given and the files it wrote (its directory: `settings.deliveryDir`). */
export const deliveryOutput = z.object({
  generation: z.int().min(0),
  files: z.array(z.string()),
});

export type UserRecord = z.infer<typeof userRecord>;
export type TargetOutput = z.infer<typeof targetOutput>;
export type SettingsOutput = z.infer<typeof settingsOutput>;
export type DeliveryOutput = z.infer<typeof deliveryOutput>;

/**
 * How the next run reads them: a user's or target's record with fields missing is still read
 * (the fields it has count; the plan treats a missing one as not recorded), a record of
 * another shape is not there at all, and the settings and delivery outputs count only whole,
 * less the fields added after 1.0.0 (a 1.0.0 stack's output lacks them: the plan says what
 * this run uses instead of comparing, lib/accessPlanSettings.ts and accessPlanTargets.ts).
 */
export const previousUser = userRecord.partial();
export const previousTarget = targetOutput.partial({ generation: true, reloadCommand: true, owner: true, group: true });
export const previousSettings = settingsOutput.partial({
  stack: true,
  bitwardenCli: true,
  bitwardenItemPrefix: true,
  bitwardenOnRevoke: true,
  bitwardenRepair: true,
});
export type PreviousUser = z.infer<typeof previousUser>;
export type PreviousTarget = z.infer<typeof previousTarget>;
export type PreviousSettings = z.infer<typeof previousSettings>;

/*
 * The `authTargets` output calls a target's resource name `name`, and 1.0.0 promised that
 * field. In the code it is `resourceName`, because a server's `name` is another thing: the
 * name the admin chose for it in stack config (`servers[].name`, "box"; its resource name is
 * "server-box"). These two functions are the only places where the two words meet.
 */

/** The resource name of a target the last run recorded. */
export function recordedResourceName(recorded: Pick<TargetOutput, "name">): string {
  return recorded.name;
}

/** A target's record in the `authTargets` output, from the code's names for its fields. */
export function toTargetOutput(fields: Omit<TargetOutput, "name"> & { resourceName: string }): TargetOutput {
  const { resourceName, ...rest } = fields;
  return { name: resourceName, ...rest };
}
