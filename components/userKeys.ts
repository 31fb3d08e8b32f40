/**
 * The users' API keys: per user a key (`@pulumi/random`), its hash as FetchML stores it, a
 * public fingerprint and the user's ml config, all under one component whose inputs are every
 * user's public facts, so a preview's diff shows a role or access change on the user it belongs
 * to (`users.bob.role`). One component for all users, not one per user: a second resource per
 * user doubled what the engine handles per run (a first up of 500 users took 2.3x as long;
 * README, "Performance"). A rotation still touches exactly one user's key.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClientSettings, UserSettings } from "../config/settings";
import type { KeyPlan } from "../lib/keyPlan";
import { hashApiKey, KEY_SPEC, keyFingerprint, keyResourceName } from "../lib/keys";
import { renderMlConfig } from "../lib/mlConfig";

/** 1.0.0 gave each user a component of this type, named after the user, with the key inside. */
const V1_USER_COMPONENT = "fetchml:index:UserKey";

export interface UserKeysArgs {
  /** The validated users from stack config. */
  readonly users: readonly UserSettings[];
  /** This run's plan per user (lib/keyPlan.ts): its keeper is the only input whose change issues a new key. */
  readonly plans: ReadonlyMap<string, KeyPlan>;
  /** Values for the users' `~/.ml/config.toml`. */
  readonly client: ClientSettings;
  /**
   * For users whose key goes to Bitwarden: a hook run before such a key is created or replaced,
   * whatever the cause (new user, counter, rotate-all, age, `--replace`), and what such a key
   * waits for (every revocation, so that the check never holds one up).
   */
  readonly vault?: { readonly beforeKeyChange: pulumi.ResourceHook; readonly after: readonly pulumi.Resource[] };
}

/** One user's key and what follows from it. */
export interface IssuedKey {
  /** The API key (secret). */
  readonly apiKey: pulumi.Output<string>;
  /** SHA-256 of the key as FetchML stores it (secret: as good as the key). */
  readonly apiKeyHash: pulumi.Output<string>;
  /** A short public label that changes with the key and reveals nothing of it. */
  readonly fingerprint: pulumi.Output<string>;
  /** The user's ml CLI config (secret). */
  readonly mlConfig: pulumi.Output<string>;
}

export class UserKeys extends pulumi.ComponentResource {
  /** Per user name, the key and what follows from it. */
  public readonly keys: ReadonlyMap<string, IssuedKey>;
  /** Per user name, the key's public fingerprint. */
  public readonly fingerprints: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: UserKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    // Public facts only: nothing secret in a component's inputs.
    super("fetchml:index:UserKeys", name, publicFacts(args.users, args.client), opts);

    this.keys = new Map(
      args.users.map((user) => {
        const vault = user.delivery === "bitwarden" ? args.vault : undefined;
        // The keeper is the only way a key changes (decided in lib/keyPlan.ts): the user's counter,
        // plus what the rotate-all switch and the age policy add to it.
        const key = new random.RandomPassword(
          keyResourceName(user.name),
          { ...KEY_SPEC, keepers: { rotation: args.plans.get(user.name)!.keeper } },
          {
            parent: this,
            // The key's URN changed with its parent; the alias keeps a 1.0.0 stack's key (a new URN is a new key).
            aliases: [{ parent: pulumi.createUrn(user.name, V1_USER_COMPONENT) }],
            ...(vault ? { dependsOn: [...vault.after], hooks: { beforeCreate: [vault.beforeKeyChange] } } : {}),
          },
        );
        return [user.name, issued(key, args.client)];
      }),
    );
    this.fingerprints = pulumi.all(Object.fromEntries([...this.keys].map(([user, k]) => [user, k.fingerprint])));
    // Only the public fingerprints go into state as the component's outputs: the secrets are in
    // the keys' own state already.
    this.registerOutputs({ fingerprints: this.fingerprints });
  }
}

/** The component's inputs: each user's role, access, delivery and status, and where ml CLIs send keys. */
function publicFacts(users: readonly UserSettings[], client: ClientSettings) {
  return {
    users: Object.fromEntries(
      users.map((user) => [
        user.name,
        {
          role: user.role,
          admin: user.access.admin,
          roles: user.access.roles,
          permissions: user.access.permissions,
          delivery: user.delivery,
          status: user.suspended ? "suspended" : "active",
        },
      ]),
    ),
    // Where the users' ml CLI sends the key: a change shows in every preview (and fails
    // --expect-no-changes), even with no delivery file to rewrite.
    client: { workerHost: client.workerHost, workerPort: client.workerPort, apiUrl: client.apiUrl },
  };
}

function issued(key: random.RandomPassword, client: ClientSettings): IssuedKey {
  // The provider marks `result` secret; saying so here too keeps it secret whatever the provider does.
  return {
    apiKey: pulumi.secret(key.result),
    apiKeyHash: pulumi.secret(key.result.apply(hashApiKey)),
    fingerprint: pulumi.unsecret(key.result.apply(keyFingerprint)),
    mlConfig: pulumi.secret(key.result.apply((apiKey) => renderMlConfig(apiKey, client))),
  };
}
