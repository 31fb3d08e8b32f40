/**
 * One FetchML user's API key: the key (`@pulumi/random`), its hash as FetchML stores it, a
 * public fingerprint, and the user's ml config. Exists so that a user is one reviewable unit
 * in a preview and a rotation touches exactly one user's key.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClientSettings, UserSettings } from "../config/settings";
import type { KeyPlan } from "../lib/keyPlan";
import { hashApiKey, KEY_SPEC, keyFingerprint, keyResourceName } from "../lib/keys";
import { renderMlConfig } from "../lib/mlConfig";

export interface UserKeyArgs {
  /** The validated user from stack config. */
  readonly user: UserSettings;
  /** This run's plan for the key (lib/keyPlan.ts): its keeper is the only input whose change issues a new key. */
  readonly key: KeyPlan;
  /** Values for the user's `~/.ml/config.toml`. */
  readonly client: ClientSettings;
  /**
   * Runs before the key is created or replaced, whatever the cause (new user, counter,
   * rotate-all, age, `--replace`): the Bitwarden check, for users whose key goes there.
   */
  readonly beforeKeyChange?: pulumi.ResourceHook;
}

export class UserKey extends pulumi.ComponentResource {
  /** The API key (secret). */
  public readonly apiKey: pulumi.Output<string>;
  /** SHA-256 of the key as FetchML stores it (secret: as good as the key). */
  public readonly apiKeyHash: pulumi.Output<string>;
  /** A short public label that changes with the key and reveals nothing of it. */
  public readonly fingerprint: pulumi.Output<string>;
  /** The user's ml CLI config (secret). */
  public readonly mlConfig: pulumi.Output<string>;

  constructor(name: string, args: UserKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    const { user } = args;
    // Public facts as the component's inputs, so a preview's diff shows a role or access
    // change on the user it belongs to. Nothing secret here.
    super(
      "fetchml:index:UserKey",
      name,
      {
        role: user.role,
        admin: user.access.admin,
        roles: user.access.roles,
        permissions: user.access.permissions,
        delivery: user.delivery,
        status: user.suspended ? "suspended" : "active",
        // Where the user's ml CLI sends the key: a change is a change of this user, in every
        // preview (and fails --expect-no-changes), even with no delivery file to rewrite.
        client: { workerHost: args.client.workerHost, workerPort: args.client.workerPort, apiUrl: args.client.apiUrl },
      },
      opts,
    );

    // The keeper is the only way a key changes (decided in lib/keyPlan.ts): the user's counter,
    // plus what the rotate-all switch and the age policy add to it.
    const key = new random.RandomPassword(
      keyResourceName(name),
      { ...KEY_SPEC, keepers: { rotation: args.key.keeper } },
      { parent: this, dependsOn: opts?.dependsOn, ...(args.beforeKeyChange ? { hooks: { beforeCreate: [args.beforeKeyChange] } } : {}) },
    );
    // The provider marks `result` secret; saying so here too keeps it secret whatever the provider does.
    this.apiKey = pulumi.secret(key.result);
    this.apiKeyHash = pulumi.secret(key.result.apply(hashApiKey));
    this.fingerprint = pulumi.unsecret(key.result.apply(keyFingerprint));
    this.mlConfig = pulumi.secret(key.result.apply((apiKey) => renderMlConfig(apiKey, args.client)));

    // Only the public fingerprint goes into state as the component's outputs: the secrets are
    // in the key's own state already, and three more ciphertexts per user made every
    // checkpoint of a first up (one per step) that much bigger (see README, "Performance").
    this.registerOutputs({ fingerprint: this.fingerprint });
  }
}
