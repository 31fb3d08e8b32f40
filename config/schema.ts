/**
 * The shape of the project's stack config (`fetchml-keys:*` in stacks/Pulumi.<stack>.yaml),
 * as a zod schema. Strict objects everywhere: a typo'd key must fail, not be ignored.
 */
import { z } from "zod";
import { linuxPath } from "../lib/linuxPath";
import { printable, UNPRINTABLE_RULE } from "../lib/printable";
import { localTargetSpec, serverSchema } from "../targets/spec";
import { PERMISSIONS, ROLES } from "./roles";

/** Usernames become YAML map keys, file names and Bitwarden item names: keep them plain. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{0,31}$/;
export const USERNAME_RULE = "must be 1-32 characters: a lowercase letter, then a-z, 0-9, '.', '_' or '-'";
const ROLE_LABEL_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/** How a user receives their key: a vault item, or an ml config file handed over directly. */
export const DELIVERIES = ["direct", "bitwarden"] as const;
export const REVOKE_POLICIES = ["trash", "delete", "keep"] as const;

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, { error: "must be a lowercase UUID" });
export type Delivery = (typeof DELIVERIES)[number];

export const username = z.string().regex(USERNAME_PATTERN, { error: USERNAME_RULE });

const permissions = z.strictObject(
  Object.fromEntries(PERMISSIONS.map((p) => [p, z.boolean().optional()])) as Record<
    (typeof PERMISSIONS)[number],
    z.ZodOptional<z.ZodBoolean>
  >,
);

export const userSchema = z.strictObject({
  /** Preset of admin flag, roles and permissions; falls back to defaults.role. */
  role: z.enum(ROLES).optional(),
  admin: z.boolean().optional(),
  roles: z
    .array(z.string().regex(ROLE_LABEL_PATTERN, { error: "role labels are a-z, 0-9, '_', '-'" }))
    .min(1)
    .max(16)
    .optional(),
  permissions: permissions.optional(),
  delivery: z.enum(DELIVERIES).optional(),
  /** Raise by one to issue a new key; the old one stops working on the next `up`. */
  rotation: z.int().min(0).max(1_000_000).optional(),
  /** Removes the hash from the server but keeps the key, so access can be restored as it was. */
  suspended: z.boolean().optional(),
  /** Rotate this user's key when it reaches this age (overrides defaults.maxKeyAgeDays). */
  maxKeyAgeDays: z.int().min(1).max(3650).optional(),
  /** Per-user vault placement, e.g. a collection only this user can read. */
  bitwarden: z.strictObject({ collectionIds: z.array(uuid).min(1).max(16) }).optional(),
});

export const bitwardenSchema = z.strictObject({
  organizationId: uuid,
  /** Default collection(s) for users without their own. */
  collectionIds: z.array(uuid).min(1).max(16),
  /** Items are named "<itemPrefix> <user>". */
  itemPrefix: z
    .string()
    .regex(/^[^\n\r]{1,64}$/, { error: "must be 1-64 characters on one line" })
    .refine(printable, { error: UNPRINTABLE_RULE })
    .optional(),
  /** What revoking a user does to their item: move to trash, delete for good, or leave it. */
  onRevoke: z.enum(REVOKE_POLICIES).optional(),
  /** A `bw` executable to use instead of the project's pinned @bitwarden/cli. */
  cli: z.string().min(1).refine(printable, { error: UNPRINTABLE_RULE }).optional(),
  /**
   * A counter: raising it makes the next up read every item back and write again each one that
   * is gone, trashed, moved or changed by hand, with the key it has (a preview cannot see the
   * vault; `refresh` names what drifted and says to raise this).
   */
  repair: z.int().min(0).max(1_000_000).optional(),
});

export const defaultsSchema = z.strictObject({
  role: z.enum(ROLES).optional(),
  delivery: z.enum(DELIVERIES).optional(),
  maxKeyAgeDays: z.int().min(1).max(3650).optional(),
});

export const clientSchema = z.strictObject({
  workerHost: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: "must be a host name or IP" })
    .optional(),
  workerPort: z.int().min(1).max(65535).optional(),
  apiUrl: z
    .string()
    .regex(/^wss?:\/\/\S+$/, { error: "must be a ws:// or wss:// URL" })
    .refine(printable, { error: UNPRINTABLE_RULE })
    // Every user's ml CLI sends its key there: a look-alike letter would read as the old host in the plan.
    .refine((url) => /^[\x21-\x7e]+$/.test(url), { error: "must be ASCII (write an international host name in its xn-- form)" })
    .optional(),
});

export const stackConfigSchema = z.strictObject({
  /** A FetchML server config file on this machine whose `auth.api_keys` this project owns. */
  authConfigPath: localTargetSpec.shape.configPath.optional(),
  /** An authConfigPath that does not exist is created by up; unset, it is refused (a typo is not a new file). */
  createIfMissing: z.boolean().optional(),
  /** Run after the local file changed (e.g. `systemctl restart fetchml-api`). */
  reloadCommand: localTargetSpec.shape.reloadCommand,
  /** FetchML servers reached over SSH; each gets the same auth.api_keys. */
  servers: z.array(serverSchema).max(32).optional(),
  /** Entries of `auth.api_keys` managed elsewhere (service accounts): never touched. */
  preserveEntries: z.array(username).max(1000).optional(),
  /** Where direct-delivery users' ml config files are written (0600 each); none when unset. */
  deliveryDir: linuxPath.optional(),
  defaults: defaultsSchema.optional(),
  bitwarden: bitwardenSchema.optional(),
  /** Emergency switch: raise by one to rotate every key in the next up. */
  rotateAll: z.int().min(0).max(1_000_000).optional(),
  /** Warn in previews about keys this many days or fewer before their maximum age. */
  expiryWarningDays: z.int().min(0).max(365).optional(),
  /** An up that would revoke more than this percentage of active users is refused unless overridden. */
  maxRevokedPercent: z.int().min(0).max(100).optional(),
  client: clientSchema.optional(),
  users: z.record(z.string(), userSchema),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type UserConfig = z.infer<typeof userSchema>;
