/**
 * fetchml-keys: users declared in stack config become API keys, hashes in the FetchML
 * server's auth config, and ml CLI configs. Reads settings, wires components, exports
 * outputs; nothing else. Both `pulumi up` and the runner (cli/) run this default export.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseSettings, readNamespace, type Settings } from "./config/settings";
import { AuthConfig } from "./components/authConfig";
import { User } from "./components/user";

export default async function program() {
  const settings = loadSettings();

  const users = settings.users.map(
    (user) => [user, new User(user.name, { user, client: settings.client, deliveryDir: settings.deliveryDir })] as const,
  );
  const authConfig = new AuthConfig("auth-config", {
    path: settings.authConfigPath,
    users: users
      .filter(([user]) => !user.suspended)
      .map(([user, key]) => ({ name: user.name, access: user.access, apiKeyHash: key.apiKeyHash })),
    preserveEntries: settings.preserveEntries,
  });

  const byName = <T>(pick: (key: User) => pulumi.Output<T>) =>
    pulumi.all(Object.fromEntries(users.map(([user, key]) => [user.name, pick(key)])));

  return {
    authConfigPath: authConfig.path,
    /** Public audit view: who has which access and which key (by fingerprint) since when. */
    users: pulumi.all(
      Object.fromEntries(
        users.map(([user, key]) => [
          user.name,
          pulumi.all([key.fingerprint, key.issuedAt]).apply(([fingerprint, issuedAt]) => ({
            role: user.role,
            admin: user.access.admin,
            roles: user.access.roles,
            permissions: user.access.permissions,
            delivery: user.delivery,
            rotation: user.rotation,
            status: user.suspended ? "suspended" : "active",
            fingerprint,
            issuedAt,
          })),
        ]),
      ),
    ),
    apiKeys: pulumi.secret(byName((key) => key.apiKey)),
    mlConfigs: pulumi.secret(byName((key) => key.mlConfig)),
  };
}

/** Validated whole before any resource exists: a bad config changes nothing. */
function loadSettings(): Settings {
  try {
    return parseSettings(readNamespace(pulumi.runtime.allConfig()));
  } catch (e) {
    // RunError: the engine prints the message once, without a stack trace.
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
