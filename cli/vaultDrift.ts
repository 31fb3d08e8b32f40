/**
 * `refresh` on a stack with Bitwarden users: the vault read back and compared with what the last
 * run wrote there. A preview starts no `bw` unless a key changes, so only this sees an item
 * someone deleted, trashed, moved or edited by hand. The comparison is the vault step's own
 * plan (steps/vaultPlan.ts) for the users, keys and collections the last run recorded: any
 * action but "keep" is a difference. Lines name users, item ids and collections, never a key.
 */
import { z } from "zod";
import { hashApiKey } from "../lib/keys";
import { previousSettings } from "../program/outputs";
import { acquireSession, bwCommand, withBwLock } from "../steps/bitwarden/bw";
import { BwServe } from "../steps/bitwarden/serve";
import { readItems } from "../steps/vault";
import { differences, planVault, type VaultAction, type VaultItem, type VaultRecord, type VaultUser } from "../steps/vaultPlan";
import { readUsersOutput, type StackOutput } from "./outputs";

const idsByUser = z.record(z.string(), z.string());

export interface RecordedVault {
  /** The stack the last run wrote the items as (`settings.stack`); undefined from 1.0.0, which did not record it. */
  stack?: string;
  organizationId: string;
  cli?: string;
  itemPrefix: string;
  /** `bitwarden.repair` as the last run had it (0 when it did not record it). */
  repair: number;
  users: VaultUser[];
  previous: Map<string, VaultRecord>;
}

/**
 * What the last run recorded, as the vault step's input; undefined when it wrote no item.
 * `itemPrefix`: the stack file's, for a last run that did not record its own (1.0.0).
 */
export function recordedVault(outputs: Record<string, StackOutput>, itemPrefix: string): RecordedVault | undefined {
  const settings = previousSettings.safeParse(outputs.settings?.value);
  const items = idsByUser.safeParse(outputs.vaultItems?.value ?? {});
  const keys = idsByUser.safeParse(outputs.apiKeys?.value ?? {});
  if (!settings.success || !settings.data.bitwardenOrganization || !items.success || !keys.success) return undefined;
  const recorded = readUsersOutput(outputs.users?.value);
  const prefix = settings.data.bitwardenItemPrefix ?? itemPrefix;
  const users: VaultUser[] = [];
  const previous = new Map<string, VaultRecord>();
  for (const [name, id] of Object.entries(items.data)) {
    const user = recorded[name];
    const apiKey = keys.data[name];
    if (!apiKey || !user?.fingerprint || !user.collectionIds) continue;
    users.push({
      name,
      itemName: `${prefix} ${name}`,
      apiKey,
      apiKeyHash: hashApiKey(apiKey),
      fingerprint: user.fingerprint,
      collectionIds: user.collectionIds,
    });
    previous.set(name, { id, fingerprint: user.fingerprint });
  }
  if (users.length === 0) return undefined;
  return {
    ...(settings.data.stack === undefined ? {} : { stack: settings.data.stack }),
    organizationId: settings.data.bitwardenOrganization,
    cli: settings.data.bitwardenCli ?? undefined,
    itemPrefix: prefix,
    repair: settings.data.bitwardenRepair ?? 0,
    users,
    previous,
  };
}

/** The differences between the vault and what the last run wrote there, one line each ("! ..."); none when it wrote no item. */
export async function vaultDrift(outputs: Record<string, StackOutput>, itemPrefix: string): Promise<string[]> {
  const recorded = recordedVault(outputs, itemPrefix);
  if (!recorded) return [];
  const bw = bwCommand(recorded.cli);
  const existing = await withBwLock(recorded.cli, async () => {
    const serve = await BwServe.start(bw, await acquireSession(bw));
    try {
      return await readItems(serve, recorded.itemPrefix, recorded.previous);
    } finally {
      await serve.close();
    }
  });
  return driftLines(recorded, existing);
}

/** What the vault step would do now, as lines: every action but "keep" is a difference. Pure. */
export function driftLines(recorded: RecordedVault, existing: readonly VaultItem[]): string[] {
  const plan = planVault(recorded.users, recorded.previous, existing, recorded.organizationId, recorded.stack);
  return [
    ...plan.refusals.map((r) => `! ${r}`),
    ...plan.warnings.map((w) => `! ${w}`),
    ...plan.actions.flatMap((action) => driftLine(action, recorded)),
  ];
}

function driftLine(action: VaultAction, recorded: RecordedVault): string[] {
  if (action.kind === "keep" || action.kind === "remove") return [];
  const { name } = action.user;
  const fix =
    `set bitwarden.repair to ${recorded.repair + 1} in the stack file and run up: it writes the item again with ${name}'s key ` +
    `(\`user rotate ${name}\` gives a new key instead)`;
  const id = recorded.previous.get(name)?.id;
  // The plan's warning (above) says which stack the last run's item names now.
  const lost = action.recordedWriter === undefined ? "is gone or in the trash" : "names another stack now";
  if (action.kind === "create") {
    const then = action.recordedWriter === undefined ? `restore it in the vault, or ${fix}` : `up writes ${name}'s key into a new item`;
    return [`! ${name}: the vault item the last run wrote (${id}) ${lost}: ${then}`];
  }
  const { item } = action;
  const what: string[] = [];
  if (action.adopted) what.push(`the item the last run wrote (${id}) ${lost}, and ${item.id} has the user's item name`);
  if (action.moveCollections)
    what.push(`it is in collections ${(item.collectionIds ?? []).join(", ") || "none"}, not ${action.user.collectionIds.join(", ")}`);
  if (action.removes.length > 0) what.push(`it holds what this tool did not write: ${action.removes.join(", ")}`);
  what.push(...differences(item, action.user, recorded.stack));
  return [`! ${name}: vault item ${item.id}: ${what.join("; ")}: ${fix}`];
}
