/**
 * Bitwarden delivery: one vault item per user ("FetchML API <user>": login = user and key,
 * hidden field api_key_hash), in the organization's collections. One resource for all
 * users, so a run costs one `bw serve` whatever the number of users, and only items that
 * differ are written. Items are tracked by the ids the last run printed.
 */
import * as pulumi from "@pulumi/pulumi";
import type { BitwardenSettings } from "../config/settings";
import { previousRecords, vaultRequest } from "../steps/vault";
import { stepResource } from "./step";

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
  /** `<organization>/<project>/<stack>`. */
  readonly stack: string;
  readonly settings: BitwardenSettings;
  readonly users: readonly VaultUserArgs[];
}

export class BitwardenVault extends pulumi.ComponentResource {
  /** Vault item id per user. */
  public readonly itemIds: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: BitwardenVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fetchml:index:BitwardenVault", name, {}, opts);
    const { settings } = args;
    const items = stepResource(
      `${name}-items`,
      {
        run: "vault-write",
        undo: "vault-remove",
        schema: vaultRequest,
        request: {
          stack: args.stack,
          organizationId: settings.organizationId,
          itemPrefix: settings.itemPrefix,
          onRevoke: settings.onRevoke,
          ...(settings.cli ? { cli: settings.cli } : {}),
          // Absent at 0, so a stack from before the counter sees no change in the request.
          ...(settings.repair > 0 ? { repair: settings.repair } : {}),
          users: args.users.map((u) => ({
            name: u.name,
            itemName: `${settings.itemPrefix} ${u.name}`,
            apiKey: u.apiKey,
            apiKeyHash: u.apiKeyHash,
            fingerprint: u.fingerprint,
            collectionIds: u.collectionIds,
          })),
        },
        // Another organization is another set of items: create there, then revoke here.
        triggers: [settings.organizationId],
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.itemIds = items.stdout.apply((out) => Object.fromEntries([...previousRecords(out)].map(([user, r]) => [user, r.id])));
    this.registerOutputs({ itemIds: this.itemIds });
  }
}
