/**
 * fetchml-keys: users declared in stack config become API keys, hashes in the FetchML
 * server's auth config, and deliveries (Bitwarden items or ml config files). Reads
 * settings, wires components, exports outputs; nothing else. Both `pulumi up` and the
 * runner (cli/) run this default export.
 *
 * Order of a run: revocations on every target first (never waiting on Bitwarden) -> the
 * Bitwarden session check -> keys -> vault items -> each target's auth config (a new hash
 * reaches a server only once its key can be fetched). Targets are the local file and/or
 * FetchML servers over SSH; each is independent of the others.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseSettings, readNamespace, type Settings } from "./config/settings";
import { AuthConfig } from "./components/authConfig";
import { AuthRevocation } from "./components/authRevocation";
import { authTargets } from "./components/authTarget";
import { BitwardenSession } from "./components/bitwardenSession";
import { BitwardenVault } from "./components/bitwardenVault";
import { User } from "./components/user";

export default async function program() {
  const settings = loadSettings();
  const active = settings.users.filter((u) => !u.suspended);
  const vaultUsers = settings.users.filter((u) => u.delivery === "bitwarden");

  const targets = authTargets(settings);
  const revocations = targets.map(
    (target) =>
      new AuthRevocation(target.resourceName, { target, keep: [...active.map((u) => u.name), ...settings.preserveEntries] }).revoke,
  );
  const session =
    settings.bitwarden && vaultUsers.length > 0
      ? new BitwardenSession(
          "bitwarden",
          {
            cli: settings.bitwarden.cli,
            watch: {
              organizationId: settings.bitwarden.organizationId,
              users: Object.fromEntries(vaultUsers.map((u) => [u.name, { rotation: u.rotation, collectionIds: u.collectionIds }])),
            },
          },
          { dependsOn: revocations },
        )
      : undefined;

  const users = settings.users.map((user) => {
    const waitFor = user.delivery === "bitwarden" && session ? [session.check] : undefined;
    return [user, new User(user.name, { user, client: settings.client, deliveryDir: settings.deliveryDir, waitFor })] as const;
  });
  const vault = settings.bitwarden
    ? new BitwardenVault("bitwarden", {
        settings: settings.bitwarden,
        users: users
          .filter(([user]) => user.delivery === "bitwarden")
          .map(([user, key]) => ({
            name: user.name,
            collectionIds: user.collectionIds!,
            apiKey: key.apiKey,
            apiKeyHash: key.apiKeyHash,
            fingerprint: key.fingerprint,
          })),
        waitFor: revocations,
      })
    : undefined;
  const authConfigs = targets.map(
    (target, i) =>
      new AuthConfig(target.resourceName, {
        target,
        users: users
          .filter(([user]) => !user.suspended)
          .map(([user, key]) => ({ name: user.name, access: user.access, apiKeyHash: key.apiKeyHash })),
        preserveEntries: settings.preserveEntries,
        waitFor: [revocations[i], ...(vault ? [vault.items] : [])],
      }),
  );

  const byName = <T>(pick: (key: User) => pulumi.Output<T>) =>
    pulumi.all(Object.fromEntries(users.map(([user, key]) => [user.name, pick(key)])));

  return {
    authTargets: authConfigs.map((a) => a.target),
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
    vaultItems: vault ? vault.itemIds : {},
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
