/**
 * fetchml-keys: users declared in stack config become API keys, hashes in the FetchML
 * servers' auth configs, and deliveries (Bitwarden items or ml config files). Reads
 * settings, wires components, exports outputs; nothing else. Both `pulumi up` and the
 * runner (cli/) run this module's export.
 *
 * Order of a run: the mass-revocation guard -> revocations on every target (never waiting
 * on Bitwarden) -> the Bitwarden session check -> keys -> vault items -> each target's auth
 * config (a new hash reaches a server only once its key can be fetched).
 */
import * as pulumi from "@pulumi/pulumi";
import { exposureProblems } from "./config/exposure";
import { ConfigError, parseSettings, readNamespace, type Settings } from "./config/settings";
import { AuthConfig } from "./components/authConfig";
import { AuthRevocation } from "./components/authRevocation";
import { authTargets } from "./components/authTarget";
import { BitwardenSession } from "./components/bitwardenSession";
import { BitwardenVault } from "./components/bitwardenVault";
import { readPreviousRun } from "./components/previousRun";
import { RevocationGuard } from "./components/revocationGuard";
import { User } from "./components/user";
import { autoRotations, expiryWarning, now, rotationKeeper } from "./lib/keyPolicy";

async function program() {
  const settings = loadSettings();
  const clock = now();
  const active = settings.users.filter((u) => !u.suspended);
  const vaultUsers = settings.users.filter((u) => u.delivery === "bitwarden");
  const previous = (await readPreviousRun()).users;

  const guard = new RevocationGuard("revocations", {
    active: active.map((u) => u.name),
    maxRevokedShare: settings.maxRevokedShare,
  });
  const targets = authTargets(settings);
  const revocations = targets.map(
    (target) =>
      new AuthRevocation(
        target.resourceName,
        { target, keep: [...active.map((u) => u.name), ...settings.preserveEntries] },
        { dependsOn: [guard.check] },
      ).revoke,
  );
  const session =
    settings.bitwarden && vaultUsers.length > 0
      ? new BitwardenSession(
          "bitwarden",
          {
            cli: settings.bitwarden.cli,
            watch: {
              organizationId: settings.bitwarden.organizationId,
              rotateAll: settings.rotateAll,
              users: Object.fromEntries(vaultUsers.map((u) => [u.name, { rotation: u.rotation, collectionIds: u.collectionIds }])),
            },
          },
          { dependsOn: revocations },
        )
      : undefined;

  const users = settings.users.map((user) => {
    const before = Object.hasOwn(previous, user.name) ? previous[user.name] : undefined;
    const warning = expiryWarning(user.name, before, user.maxKeyAgeDays, settings.expiryWarningDays, clock);
    if (warning) pulumi.log.warn(warning);
    const auto = autoRotations(before, user.maxKeyAgeDays, clock);
    const key = new User(user.name, {
      user,
      client: settings.client,
      deliveryDir: settings.deliveryDir,
      waitFor: user.delivery === "bitwarden" && session ? [session.check] : undefined,
      rotationKeeper: rotationKeeper(user.rotation, settings.rotateAll, auto),
    });
    return { user, key, auto };
  });

  const vault = settings.bitwarden
    ? new BitwardenVault("bitwarden", {
        settings: settings.bitwarden,
        users: users
          .filter(({ user }) => user.delivery === "bitwarden")
          .map(({ user, key }) => ({
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
          .filter(({ user }) => !user.suspended)
          .map(({ user, key }) => ({ name: user.name, access: user.access, apiKeyHash: key.apiKeyHash })),
        preserveEntries: settings.preserveEntries,
        waitFor: [revocations[i], ...(vault ? [vault.items] : [])],
      }),
  );

  const byName = <T>(pick: (key: User) => pulumi.Output<T>) =>
    pulumi.all(Object.fromEntries(users.map(({ user, key }) => [user.name, pick(key)])));

  return {
    authTargets: authConfigs.map((a) => a.target),
    /** Public audit view: who has which access and which key (by fingerprint) since when. */
    users: pulumi.all(
      Object.fromEntries(
        users.map(({ user, key, auto }) => [
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
            maxKeyAgeDays: user.maxKeyAgeDays ?? null,
            autoRotations: auto,
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
    const settings = parseSettings(readNamespace(pulumi.runtime.allConfig()));
    const exposed = exposureProblems(settings, pulumi.getStack());
    if (exposed.length > 0) throw new ConfigError(exposed);
    return settings;
  } catch (e) {
    // RunError: the engine prints the message once, without a stack trace.
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

// `export =`, not `export default`: @pulumi/pulumi's cmd/run calls a CommonJS module's export
// only when the export itself is a function (a default export would run nothing under plain
// `pulumi up`, and on an existing stack delete every resource).
export = program;
