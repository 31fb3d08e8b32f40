/**
 * The contract between the program's components and the steps they run (steps/main.ts): one
 * zod schema per request (sent on stdin, secret) and result (printed on stdout, kept in
 * state). Components build requests with these types; steps parse with the same schemas.
 * Names-to-things maps travel as [name, value] pairs, so any username is plain data.
 */
import { z } from "zod";
import { apiKeyEntry, apiKeyHash } from "../lib/authSection";
import { MAX_GENERATION } from "../lib/targetRecord";
import { targetSpec } from "../targets/spec";

export const STEPS = [
  "auth-revoke",
  "auth-write",
  "auth-remove",
  "vault-write",
  "vault-remove",
  "delivery-write",
  "delivery-remove",
] as const;
export type StepName = (typeof STEPS)[number];

const name = z.string().min(1);

/** A stack's whole name as the program says it (org/project/stack): one line, written into files as is. */
export const STACK_NAME = /^[A-Za-z0-9._-]{1,100}(\/[A-Za-z0-9._-]{1,100}){2}$/;
/** The stack a step acts for: the owner it records beside a target or in a delivery directory. */
const stackName = z.string().regex(STACK_NAME);

/** Revocation before anything touches Bitwarden: every entry not kept leaves the target. */
export const authRevokeRequest = z.strictObject({
  /** The owner the target's record must name. */
  stack: stackName,
  target: targetSpec,
  /** Entries that may stay: active declared users and preserved entries. */
  keep: z.array(name),
});

/** The full auth.api_keys this stack wants on the target (plus the entries it leaves alone). */
export const authWriteRequest = z.strictObject({
  stack: stackName,
  target: targetSpec,
  entries: z.array(z.tuple([name, apiKeyEntry])),
  preserve: z.array(name),
  /**
   * The record generation after this write, from the program's reading of the target (the same
   * number the record holds); null when the program could not reach the target: the step takes
   * the one after the record's.
   */
  generation: z.int().min(0).max(MAX_GENERATION).nullable(),
});

/** Printed by auth-write; given back to its update and delete (PULUMI_COMMAND_STDOUT). */
export const authWriteResult = z.strictObject({ writer: name });

export const vaultUser = z.strictObject({
  name,
  itemName: name,
  apiKey: z.string().min(1),
  apiKeyHash,
  fingerprint: z.string(),
  collectionIds: z.array(z.string()).min(1),
});

export const vaultRequest = z.strictObject({
  /**
   * The stack whose items these are: with the checkout, names the run's shared `bw serve`
   * (steps/bitwarden/serve.ts). Absent in a request 1.0.0 stored, which a delete replays.
   */
  stack: stackName.optional(),
  organizationId: z.string(),
  itemPrefix: z.string(),
  onRevoke: z.enum(["trash", "delete", "keep"]),
  cli: z.string().optional(),
  /** `bitwarden.repair`: only there to change the request, so the step runs and rewrites what drifted. */
  repair: z.int().min(1).optional(),
  users: z.array(vaultUser),
});

export const vaultRecord = z.strictObject({ id: z.string(), fingerprint: z.string() });
/** Printed by vault-write: the item each user's key is in (public ids and fingerprints). */
export const vaultResult = z.strictObject({ items: z.array(z.tuple([name, vaultRecord])) });

export const deliveryRequest = z.strictObject({
  /** The stack that delivers into `dir` (org/project/stack): recorded there, so that no other stack writes or removes its files. */
  stack: stackName,
  /** Absolute real directory for the ml config files (0700), one `<user>.toml` (0600) per user. */
  dir: z.string().min(1),
  files: z.array(z.tuple([name, z.string()])),
  /** Bumped by the program when a delivered file is missing or changed: drift is a change, repaired once. */
  generation: z.int().min(0),
});

/** Printed by delivery-write: the files it owns (their names only) and its id, given back to its update and delete. */
export const deliveryResult = z.strictObject({ files: z.array(name), writer: name });

export type AuthRevokeRequest = z.infer<typeof authRevokeRequest>;
export type AuthWriteRequest = z.infer<typeof authWriteRequest>;
export type VaultUser = z.infer<typeof vaultUser>;
export type VaultRequest = z.infer<typeof vaultRequest>;
export type VaultRecord = z.infer<typeof vaultRecord>;
export type DeliveryRequest = z.infer<typeof deliveryRequest>;

/** A step's result as printed (its stdout, or PULUMI_COMMAND_STDOUT), or undefined when there is none or it is another shape. */
export function previousResult<T>(schema: z.ZodType<T>, stdout: string | undefined): T | undefined {
  if (!stdout) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(stdout));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
