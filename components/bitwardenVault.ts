/**
 * Bitwarden delivery: one vault item per user ("FetchML API <user>": login = user and key,
 * hidden field api_key_hash), in the organization's collections. One resource for all
 * users, so a run costs one `bw` session whatever the number of users, and only items that
 * differ are written. Items are tracked by the ids the last run printed.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BitwardenSettings } from "../config/settings";
import { WRITER_INTERPRETER, writerCommand } from "./writerCommand";

export interface VaultUserArgs {
  readonly name: string;
  readonly collectionIds: string[];
  /** The key (secret). */
  readonly apiKey: pulumi.Input<string>;
  /** The key's hash (secret). */
  readonly apiKeyHash: pulumi.Input<string>;
  readonly fingerprint: pulumi.Input<string>;
}

export interface BitwardenVaultArgs {
  readonly settings: BitwardenSettings;
  readonly users: readonly VaultUserArgs[];
  /** Steps that must come first (the revocation step). */
  readonly waitFor?: pulumi.Resource[];
}

export class BitwardenVault extends pulumi.ComponentResource {
  /** Vault item id per user. */
  public readonly itemIds: pulumi.Output<Record<string, string>>;
  /** The resource to wait for before the server learns a new hash. */
  public readonly items: command.local.Command;

  constructor(name: string, args: BitwardenVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:BitwardenVault", name, {}, opts);
    const { settings } = args;
    const users = args.users.map((u) =>
      pulumi.all([u.apiKey, u.apiKeyHash, u.fingerprint]).apply(([apiKey, apiKeyHash, fingerprint]) => ({
        name: u.name,
        itemName: `${settings.itemPrefix} ${u.name}`,
        apiKey,
        apiKeyHash,
        fingerprint,
        collectionIds: u.collectionIds,
      })),
    );
    const request = pulumi.secret(
      pulumi.all(users).apply((list) =>
        JSON.stringify({
          organizationId: settings.organizationId,
          itemPrefix: settings.itemPrefix,
          onRevoke: settings.onRevoke,
          cli: settings.cli,
          users: list,
        }),
      ),
    );
    this.items = new command.local.Command(
      `${name}-items`,
      {
        create: writerCommand("bitwarden-vault", "apply"),
        delete: writerCommand("bitwarden-vault", "remove"),
        stdin: request,
        interpreter: WRITER_INTERPRETER,
        logging: "stderr",
        // Another organization is another set of items: create there, then revoke here.
        triggers: [settings.organizationId],
      },
      { parent: this, dependsOn: args.waitFor, additionalSecretOutputs: ["stderr"] },
    );
    this.itemIds = this.items.stdout.apply((out) => {
      const records = JSON.parse(out || "{}").items ?? {};
      return Object.fromEntries(Object.entries(records).map(([user, r]) => [user, (r as { id: string }).id]));
    });
    this.registerOutputs({ itemIds: this.itemIds });
  }
}
