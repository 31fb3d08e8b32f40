/**
 * Turns the raw stack config into typed Settings, or a ConfigError listing every problem
 * with its config path and value. Pure: no Pulumi imports, so it is tested in milliseconds
 * and runs before any resource is declared (bad input changes nothing).
 */
import { type Access, type Role, resolveAccess } from "./roles";
import type { ServerSettings } from "../targets/spec";
import { ConfigError, describeIssue, formatPath, show } from "./problems";
import { type Delivery, REVOKE_POLICIES, stackConfigSchema, USERNAME_PATTERN, USERNAME_RULE } from "./schema";

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
  const problems = [...stray, ...(parsed.success ? [] : parsed.error.issues.flatMap((i) => describeIssue(i, config)))];
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
