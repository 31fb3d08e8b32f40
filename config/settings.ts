/**
 * The project's stack config (`fetchml-keys:*` in stacks/Pulumi.<stack>.yaml): its shape, as a
 * zod schema (strict objects everywhere: a typo'd key must fail, not be ignored), and the typed
 * Settings it resolves to, or a ConfigError listing every problem with its config path and
 * value. Pure: no Pulumi imports, so it is tested in milliseconds and runs before any resource
 * is declared (bad input changes nothing).
 */
import { z } from "zod";
import { linuxPath } from "../lib/linuxPath";
import { printable, UNPRINTABLE_RULE } from "../lib/printable";
import { localTargetSpec, serverSchema, type ServerSettings } from "../targets/spec";
import { ConfigError, describeIssue, formatPath, show } from "./problems";
import { type Access, PERMISSIONS, type Role, ROLES, resolveAccess } from "./roles";

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
  /** Raise by one to issue a new key (any other value issues one too); the old one stops working on the next `up`. */
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

export interface UserSettings {
  name: string;
  role: Role;
  access: Access;
  delivery: Delivery;
  rotation: number;
  suspended: boolean;
  /** For Bitwarden delivery: the collections the user's item belongs in. */
  collectionIds?: string[];
  /** Rotate the key automatically once it is this old. */
  maxKeyAgeDays?: number;
}

export interface BitwardenSettings {
  organizationId: string;
  collectionIds: string[];
  itemPrefix: string;
  onRevoke: (typeof REVOKE_POLICIES)[number];
  cli?: string;
  repair: number;
}

export interface ClientSettings {
  workerHost: string;
  workerPort: number;
  apiUrl: string;
}

export interface Settings {
  /** Sorted by name, so every rendering and diff is deterministic. */
  users: UserSettings[];
  authConfigPath?: string;
  /** authConfigPath may be created by up when it does not exist. */
  createIfMissing: boolean;
  reloadCommand?: string;
  servers: ServerSettings[];
  preserveEntries: string[];
  deliveryDir?: string;
  client: ClientSettings;
  bitwarden?: BitwardenSettings;
  rotateAll: number;
  expiryWarningDays: number;
  /** Largest share (0..1) of active users one run may revoke without an override. */
  maxRevokedShare: number;
}

/** Vault items are named "<itemPrefix> <user>"; the old helper script's name. */
export const DEFAULT_ITEM_PREFIX = "FetchML API";

/** The seed page's values: the CLI talks to the server through an SSH tunnel. */
export const DEFAULT_CLIENT: ClientSettings = {
  workerHost: "localhost",
  workerPort: 9100,
  apiUrl: "ws://localhost:9100/ws",
};
/** `stray`: problems found outside our namespace (strayKeys), reported with the rest, all at once. */
export function parseSettings(config: Record<string, unknown>, stray: readonly string[] = []): Settings {
  const parsed = stackConfigSchema.safeParse(config);
  const problems = [...stray, ...(parsed.success ? [] : parsed.error.issues.flatMap((i) => describeIssue(i, config, stackConfigSchema)))];
  problems.push(...crossChecks(config));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const data = parsed.data;
  const defaults = data.defaults ?? {};
  const users = Object.keys(data.users)
    .sort()
    .map((name): UserSettings => {
      const user = data.users[name];
      const role = (user.role ?? defaults.role) as Role; // crossChecks guarantees one is set
      const delivery = user.delivery ?? defaults.delivery ?? "direct";
      return {
        name,
        role,
        access: resolveAccess(role, user),
        delivery,
        rotation: user.rotation ?? 0,
        suspended: user.suspended ?? false,
        ...(delivery === "bitwarden" ? { collectionIds: user.bitwarden?.collectionIds ?? data.bitwarden!.collectionIds } : {}),
        ...((user.maxKeyAgeDays ?? defaults.maxKeyAgeDays) !== undefined
          ? { maxKeyAgeDays: user.maxKeyAgeDays ?? defaults.maxKeyAgeDays }
          : {}),
      };
    });
  return {
    users,
    authConfigPath: data.authConfigPath,
    createIfMissing: data.createIfMissing ?? false,
    reloadCommand: data.reloadCommand,
    servers: (data.servers ?? []).map((server) => ({
      ...server,
      port: server.port ?? 22,
      createIfMissing: server.createIfMissing ?? false,
    })),
    preserveEntries: [...(data.preserveEntries ?? [])].sort(),
    deliveryDir: data.deliveryDir,
    client: { ...DEFAULT_CLIENT, ...data.client },
    rotateAll: data.rotateAll ?? 0,
    expiryWarningDays: data.expiryWarningDays ?? 14,
    maxRevokedShare: (data.maxRevokedPercent ?? 50) / 100,
    bitwarden: data.bitwarden && {
      organizationId: data.bitwarden.organizationId,
      collectionIds: data.bitwarden.collectionIds,
      itemPrefix: data.bitwarden.itemPrefix ?? DEFAULT_ITEM_PREFIX,
      onRevoke: data.bitwarden.onRevoke ?? "trash",
      cli: data.bitwarden.cli,
      repair: data.bitwarden.repair ?? 0,
    },
  };
}

/**
 * Rules the schema cannot express (map keys, fields that refer to each other). They read the
 * raw input defensively so they run even when the schema failed: every problem at once.
 */
function crossChecks(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const users = isMap(config.users) ? config.users : undefined;
  const defaults = isMap(config.defaults) ? config.defaults : {};
  const names = users ? Object.keys(users) : [];
  if (users && names.length === 0) {
    problems.push("users: no users declared; an empty list would revoke every key, so it is refused");
  }
  for (const name of names) {
    if (!USERNAME_PATTERN.test(name)) {
      problems.push(`${formatPath(["users", name])}: bad username ${show(name)}: ${USERNAME_RULE}`);
    }
    const user = users?.[name];
    if (isMap(user) && user.role === undefined && defaults.role === undefined) {
      problems.push(`${formatPath(["users", name, "role"])}: missing (no defaults.role to fall back on)`);
    }
    const delivery = isMap(user) ? (user.delivery ?? defaults.delivery) : undefined;
    if (delivery === "bitwarden" && !isMap(config.bitwarden)) {
      problems.push(`${formatPath(["users", name, "delivery"])}: "bitwarden" needs a bitwarden section (organizationId, collectionIds)`);
    }
    if (isMap(user) && user.bitwarden !== undefined && delivery !== "bitwarden") {
      problems.push(`${formatPath(["users", name, "bitwarden"])}: only applies to users with delivery "bitwarden"`);
    }
  }
  const servers = Array.isArray(config.servers) ? config.servers : [];
  if (!config.authConfigPath && servers.length === 0) {
    problems.push("authConfigPath: missing (name a local auth config file, or FetchML servers under servers)");
  }
  servers.forEach((server, i) => {
    // The write gives the file `owner[:group]`; a group alone was never applied, and a setting
    // that decides who reads the hashes must not pass silently unused.
    if (isMap(server) && server.group !== undefined && server.owner === undefined) {
      problems.push(
        `${formatPath(["servers", i, "group"])}: ${show(server.group)} is applied only with owner; set servers[${i}].owner too ` +
          "(the file's user, e.g. root) or remove group (the file then keeps its owner and group)",
      );
    }
  });
  const serverNames = servers.map((s) => (isMap(s) ? s.name : undefined)).filter((n) => typeof n === "string");
  for (const dup of new Set(serverNames.filter((n, i) => serverNames.indexOf(n) !== i))) {
    problems.push(`servers: the name ${show(dup)} is used more than once`);
  }
  const preserved = Array.isArray(config.preserveEntries) ? config.preserveEntries : [];
  for (const kept of preserved) {
    if (typeof kept === "string" && names.includes(kept)) {
      problems.push(`preserveEntries: ${show(kept)} is also declared under users; it cannot be both managed and preserved`);
    }
  }
  return problems;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
