/**
 * FetchML's roles and permissions, and the presets a role name stands for.
 * The server checks permissions by these exact names; `admin: true` overrides ownership
 * checks (see ../shared/reference/fetchml.md).
 */
import { z } from "zod";

export const PERMISSIONS = ["jobs:read", "jobs:create", "jobs:update"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ["admin", "researcher", "analyst"] as const;
export type Role = (typeof ROLES)[number];

/** What one `auth.api_keys.<user>` entry grants, without the hash (the entry: lib/authSection.ts apiKeyEntry). */
export const accessSchema = z.object({
  admin: z.boolean(),
  roles: z.array(z.string()),
  /** Every permission FetchML checks, each said explicitly. */
  permissions: z.record(z.enum(PERMISSIONS), z.boolean()),
});
export type Access = z.infer<typeof accessSchema>;

export const ROLE_PRESETS: Readonly<Record<Role, Access>> = {
  admin: {
    admin: true,
    roles: ["admin"],
    permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": true },
  },
  researcher: {
    admin: false,
    roles: ["researcher"],
    permissions: { "jobs:read": true, "jobs:create": true, "jobs:update": true },
  },
  analyst: {
    admin: false,
    roles: ["analyst"],
    permissions: { "jobs:read": true, "jobs:create": false, "jobs:update": false },
  },
};

export interface AccessOverrides {
  admin?: boolean;
  roles?: string[];
  permissions?: Partial<Record<Permission, boolean>>;
}

/** The role's preset with the user's overrides laid over it (permissions merge key by key). */
export function resolveAccess(role: Role, overrides: AccessOverrides = {}): Access {
  const preset = ROLE_PRESETS[role];
  return {
    admin: overrides.admin ?? preset.admin,
    roles: [...(overrides.roles ?? preset.roles)],
    permissions: { ...preset.permissions, ...overrides.permissions },
  };
}
