/**
 * One FetchML user: their API key, its hash, and the public facts an admin audits.
 * Exists so that a user is one reviewable unit in a preview ("alice: key replaced") and so
 * a rotation touches exactly one user's resources.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClientSettings, UserSettings } from "../config/settings";
import { hashApiKey, KEY_SPEC, keyFingerprint } from "../lib/keys";
import { renderMlConfig } from "../lib/mlConfig";
import { DirectShare } from "./directShare";

const ISSUED_AT_COMMAND = 'printf "%s\\n" "${FETCHML_KEYS_NOW:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"';

export interface UserArgs {
  /** The validated user from stack config. */
  readonly user: UserSettings;
  /** Values for the user's `~/.ml/config.toml`. */
  readonly client: ClientSettings;
  /** Directory for direct-delivery ml config files; none written when unset. */
  readonly deliveryDir?: string;
  /** Steps that must succeed before the key may change (the Bitwarden session check). */
  readonly waitFor?: pulumi.Resource[];
  /** The key's keeper: a new value issues a new key (see lib/keyPolicy.ts). */
  readonly rotationKeeper: pulumi.Input<string>;
}

export class User extends pulumi.ComponentResource {
  /** The API key (secret). */
  public readonly apiKey: pulumi.Output<string>;
  /** SHA-256 of the key as FetchML stores it (secret: as good as the key). */
  public readonly apiKeyHash: pulumi.Output<string>;
  /** A short public label that changes with the key and reveals nothing of it. */
  public readonly fingerprint: pulumi.Output<string>;
  /** When the current key was issued (UTC, RFC 3339): stable across ups, new on rotation. */
  public readonly issuedAt: pulumi.Output<string>;
  /** The user's ml CLI config (secret). */
  public readonly mlConfig: pulumi.Output<string>;

  constructor(name: string, args: UserArgs, opts?: pulumi.ComponentResourceOptions) {
    const { user, client } = args;
    // Public facts as the component's inputs, so a preview's steps show who gains, loses or
    // changes access (read by lib/accessSummary.ts). Nothing secret here.
    super(
      "fetchml:index:User",
      name,
      {
        role: user.role,
        admin: user.access.admin,
        roles: user.access.roles,
        permissions: user.access.permissions,
        delivery: user.delivery,
        status: user.suspended ? "suspended" : "active",
      },
      opts,
    );

    // The keeper is the only way a key changes: the user's rotation counter, plus what the
    // rotate-all switch and the age policy add to it.
    const key = new random.RandomPassword(
      `${name}-key`,
      { ...KEY_SPEC, keepers: { rotation: args.rotationKeeper } },
      { parent: this, dependsOn: args.waitFor },
    );
    // The provider marks `result` secret; saying so here too keeps it secret whatever the provider does.
    this.apiKey = pulumi.secret(key.result);
    this.apiKeyHash = pulumi.secret(key.result.apply(hashApiKey));
    this.fingerprint = pulumi.unsecret(key.result.apply(keyFingerprint));

    // A command that only records the time it ran, replaced whenever the key is: the
    // engine itself keeps the issue date in state, with no clock read on a no-change up.
    const issued = new command.local.Command(
      `${name}-issued`,
      // FETCHML_KEYS_NOW lets tests inject the clock (as the age policy reads it).
      { create: ISSUED_AT_COMMAND, triggers: [this.fingerprint], logging: "none" },
      { parent: this },
    );
    this.issuedAt = issued.stdout;
    this.mlConfig = pulumi.secret(key.result.apply((apiKey) => renderMlConfig(apiKey, client)));

    if (user.delivery === "direct" && args.deliveryDir !== undefined) {
      new DirectShare(
        `${name}-direct`,
        { path: `${args.deliveryDir}/${user.name}.toml`, mlConfig: this.mlConfig },
        { parent: this },
      );
    }

    this.registerOutputs({
      apiKey: this.apiKey,
      apiKeyHash: this.apiKeyHash,
      fingerprint: this.fingerprint,
      issuedAt: this.issuedAt,
      mlConfig: this.mlConfig,
    });
  }
}
