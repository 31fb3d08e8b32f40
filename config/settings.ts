/**
 * Turns the raw stack config into typed Settings, or a ConfigError listing every problem
 * with its config path and value. Pure: no Pulumi imports, so it is tested in milliseconds
 * and runs before any resource is declared (bad input changes nothing).
 */
import { z } from "zod";
import { parseJsonOr } from "../lib/json";
import { type Access, type Role, resolveAccess } from "./roles";
import type { ServerSettings, TargetSpec } from "../targets/spec";
import { type Delivery, REVOKE_POLICIES, stackConfigSchema, USERNAME_PATTERN, USERNAME_RULE } from "./schema";

export const CONFIG_NAMESPACE = "fetchml-keys";

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

/** The seed page's values: the CLI talks to the server through an SSH tunnel. */
export const DEFAULT_CLIENT: ClientSettings = {
  workerHost: "localhost",
  workerPort: 9100,
  apiUrl: "ws://localhost:9100/ws",
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/**
 * Pulumi hands config over as strings keyed `<namespace>:<key>`; objects and arrays arrive
 * as JSON. Other namespaces (provider settings) are not ours and are left alone.
 */
export function readNamespace(raw: Record<string, string>, namespace = CONFIG_NAMESPACE): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    if (!fullKey.startsWith(`${namespace}:`)) continue;
    const key = fullKey.slice(namespace.length + 1);
    const structured = /^\s*[[{]/.test(value) || (SCALAR_KEYS.has(key) && /^(-?\d+(\.\d+)?|true|false)$/.test(value));
    // Text that is not JSON stays text: the schema then names it as a wrong value.
    out[key] = structured ? parseJsonOr(value, value) : value;
  }
  return out;
}

/** Top-level keys that are numbers or booleans (Pulumi hands every scalar over as text). */
const SCALAR_KEYS = new Set(
  Object.entries(stackConfigSchema.shape)
    .filter(([, schema]) => {
      const inner = unwrap(schema as z.ZodType);
      return inner instanceof z.ZodNumber || inner instanceof z.ZodBoolean;
    })
    .map(([key]) => key),
);

/** Namespaces a key in this project's stack files may have: ours, Pulumi's own, its providers'. */
const KNOWN_NAMESPACES = new Set([CONFIG_NAMESPACE, "pulumi", "random", "command"]);

/**
 * Stack config keys (`<namespace>:<key>`) in no namespace this project reads: a typo such as
 * `fetchml-key:users` would otherwise only show as `users: missing`, not naming the line to fix.
 */
export function strayKeys(keys: readonly string[]): string[] {
  return keys
    .filter((key) => !KNOWN_NAMESPACES.has(key.split(":")[0]))
    .map(
      (key) =>
        `${key}: unknown key (this project's settings are ${CONFIG_NAMESPACE}:<name>, e.g. ${CONFIG_NAMESPACE}:${key.split(":").slice(1).join(":") || "users"})`,
    );
}

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
      itemPrefix: data.bitwarden.itemPrefix ?? "FetchML API",
      onRevoke: data.bitwarden.onRevoke ?? "trash",
      cli: data.bitwarden.cli,
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

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string[] {
  const path = formatPath(issue.path);
  const secretPath = issue.path.some((p) => String(p) === "privateKey");
  const value = secretPath && valueAt(root, issue.path) !== undefined ? SECRET : valueAt(root, issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const allowed = allowedKeysAt(issue.path);
        const hint = allowed.length > 0 ? ` (expected one of: ${allowed.join(", ")})` : "";
        return `${formatPath([...issue.path, key])}: unknown key ${show(key)}${hint}`;
      });
    case "invalid_value":
      return [`${path}: unknown value ${show(value)} (expected ${issue.values.map(String).join(", ")})`];
    case "invalid_type":
      return value === undefined
        ? [`${path}: missing (expected ${issue.expected})`]
        : [`${path}: expected ${issue.expected}, got ${show(value)}`];
    case "too_small":
      return [`${path}: ${show(value)} is too small (minimum ${String(issue.minimum)})`];
    case "too_big":
      return [`${path}: ${show(value)} is too big (maximum ${String(issue.maximum)})`];
    default:
      return [`${path}: ${show(value)} ${issue.message}`];
  }
}

/** The keys a strict object at this config path accepts, for "did you mean" hints. */
function allowedKeysAt(path: PropertyKey[]): string[] {
  let schema: z.ZodType = stackConfigSchema;
  for (const segment of path) {
    const def = unwrap(schema);
    if (def instanceof z.ZodObject) schema = def.shape[String(segment)];
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else if (def instanceof z.ZodArray) schema = def.element as z.ZodType;
    else return [];
    if (!schema) return [];
  }
  const def = unwrap(schema);
  return def instanceof z.ZodObject ? Object.keys(def.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path
    .map((segment, i) => {
      if (typeof segment === "number") return `[${segment}]`;
      const text = String(segment);
      const plain = /^[A-Za-z0-9_-]+$/.test(text);
      const part = plain ? text : JSON.stringify(text);
      return i === 0 ? part : `.${part}`;
    })
    .join("")
    .replace(/\.\[/g, "[");
}

/** Stands for a secret's value in messages. */
const SECRET = Symbol("secret");

/** A value as it would be typed in config, cut short so a pasted blob cannot flood the log. */
function show(value: unknown): string {
  if (value === SECRET) return "[secret]";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** One auth config this stack manages, with the resource name its steps are named after. */
export interface AuthTarget {
  /** "auth-config" for the local file, "server-<name>" for a server. */
  name: string;
  spec: TargetSpec;
  /** Where stack config names its file ("authConfigPath", "servers[0].configPath"), for messages. */
  setting: string;
  /** Whether up may create the file when it does not exist (else the preview refuses). */
  createIfMissing: ServerSettings["createIfMissing"];
}

export function authTargets(settings: Settings): AuthTarget[] {
  const targets: AuthTarget[] = [];
  if (settings.authConfigPath !== undefined) {
    targets.push({
      name: "auth-config",
      spec: {
        kind: "local",
        configPath: settings.authConfigPath,
        ...(settings.reloadCommand ? { reloadCommand: settings.reloadCommand } : {}),
      },
      setting: "authConfigPath",
      createIfMissing: settings.createIfMissing,
    });
  }
  settings.servers.forEach(({ createIfMissing, ...server }, i) =>
    targets.push({ name: `server-${server.name}`, spec: { kind: "ssh", ...server }, setting: `servers[${i}].configPath`, createIfMissing }),
  );
  return targets;
}

/** The stack file of a stack, relative to the project root (Pulumi.yaml's stackConfigDir). */
export function stackFileName(stack: string): string {
  return `stacks/Pulumi.${stack}.yaml`;
}
