/**
 * The Bitwarden steps: one `bw serve` for the whole run, whatever the number of users (the one
 * the vault check started, when a key changed; else its own).
 *   vault-write   bring every Bitwarden user's item in line (create, adopt, edit, remove)
 *   vault-remove  what destroy does: apply the revoke policy to every item the last run wrote
 * Prints the item records (public: ids and fingerprints) on stdout and one line per change on
 * stderr; never a key or hash.
 */
import { z } from "zod";
import { planVault, newItem, updatedItem, type VaultItem, type VaultRecord, vaultRecord, vaultUser } from "./vaultPlan";
import { acquireSession, bwCommand, bwDataDir, takeBwLock, tryBwLock } from "./bitwarden/bw";
import { BwServe, sharedServeDir, stopOrphans } from "./bitwarden/serve";
import { SafeError } from "./io";
import { plainName, previousResult, stackName } from "./protocol";

/** vault-write's (and vault-remove's) request. */
export const vaultRequest = z.strictObject({
  /**
   * The stack whose items these are: with the checkout, names the run's shared `bw serve`
   * (steps/bitwarden/serve.ts). Absent in a request 1.0.0 stored, which a delete replays.
   */
  stack: stackName.optional(),
  organizationId: z.string(),
  itemPrefix: z.string(),
  onRevoke: z.enum(["trash", "delete", "keep"]),
  cli: z.string().optional(),
  /** `bitwarden.repair`: only there to change the request, so the step runs and rewrites what drifted. */
  repair: z.int().min(1).optional(),
  users: z.array(vaultUser),
});
export type VaultRequest = z.infer<typeof vaultRequest>;

/** Printed by vault-write: the item each user's key is in (public ids and fingerprints). */
export const vaultResult = z.strictObject({ items: z.array(z.tuple([plainName, vaultRecord])) });
export type VaultResult = z.infer<typeof vaultResult>;

const say = (line: string) => process.stderr.write(`bitwarden: ${line}\n`);

export async function vaultStep(request: VaultRequest, mode: "write" | "remove", previousStdout: string | undefined): Promise<VaultResult> {
  const bw = bwCommand(request.cli);
  const previous = previousRecords(previousStdout);
  const { stack, organizationId, itemPrefix } = request;
  const dir = stack && sharedServeDir({ stack, dataDir: bwDataDir(process.env, request.cli), organizationId, itemPrefix });
  const shared = dir ? await BwServe.join(dir) : undefined;
  // The serve this run's vault check started (a key changed), while its program holds the bw
  // lock; one at this name with the lock free is a killed run's, stopped once the lock is ours.
  const release = shared ? await tryBwLock(request.cli) : await takeBwLock(request.cli);
  if (!release) return { items: await applyPlan(shared!, request, mode, previous) };
  try {
    if (shared) await stopOrphans(dir!);
    const serve = await BwServe.start(bw, await acquireSession(bw));
    try {
      return { items: await applyPlan(serve, request, mode, previous) };
    } finally {
      await serve.close();
    }
  } finally {
    release();
  }
}

/** Plans the items against the vault as it is now and makes them so; the records, by user. */
async function applyPlan(
  serve: BwServe,
  request: VaultRequest,
  mode: "write" | "remove",
  previous: ReadonlyMap<string, VaultRecord>,
): Promise<Array<[string, VaultRecord]>> {
  const records: Array<[string, VaultRecord]> = [];
  const existing = await readItems(serve, request.itemPrefix, previous);
  const plan = planVault(mode === "write" ? request.users : [], previous, existing, request.organizationId, request.stack);
  plan.warnings.forEach(say);
  // Before anything is written: a key never goes into an item this tool cannot make clean.
  if (plan.refusals.length > 0) throw new SafeError(plan.refusals.join("; "));
  // One request at a time, on purpose: each write makes `bw serve` save its data file under a
  // file lock (proper-lockfile, retried from 100 ms), so requests in flight together wait on
  // each other. Measured with 100 new users: this step took 16 s one at a time, 38 s four at a time.
  for (const action of plan.actions) {
    if (action.kind === "keep") {
      records.push([action.user.name, { id: action.item.id, fingerprint: action.user.fingerprint }]);
    } else if (action.kind === "create") {
      const created = await serve.call<VaultItem>("POST", "/object/item", newItem(action.user, request.organizationId, request.stack));
      records.push([action.user.name, { id: created.id, fingerprint: action.user.fingerprint }]);
      say(`created item "${action.user.itemName}" for ${action.user.name}`);
    } else if (action.kind === "update") {
      const { item, user } = action;
      // The move comes first, and is checked: the key is written only into an item that
      // nobody outside the configured collections can read (an adopted item may have been
      // made by another member in a collection they read).
      if (action.moveCollections) {
        const moved = await serve.call<VaultItem>("PUT", `/object/item-collections/${item.id}`, user.collectionIds);
        const now = [...(moved?.collectionIds ?? [])].sort().join(", ");
        if (now !== [...user.collectionIds].sort().join(", "))
          throw new SafeError(
            `item "${item.name}" (${item.id}) is in collections ${now || "none"} after the move, not ${user.collectionIds.join(", ")}: no key was written into it`,
          );
        say(
          `moved item "${item.name}" (${item.id}) from collections ${(item.collectionIds ?? []).join(", ") || "none"} to ${user.collectionIds.join(", ")}`,
        );
      }
      // One edit writes the key and drops whatever else was there: no state holds both.
      await serve.call("PUT", `/object/item/${item.id}`, updatedItem(item, user, request.stack));
      records.push([user.name, { id: item.id, fingerprint: user.fingerprint }]);
      say(`${action.adopted ? `adopted existing item (${item.id})` : "updated item"} "${user.itemName}" for ${user.name}`);
      if (action.removes.length > 0) say(`removed from "${user.itemName}" what this tool did not write: ${action.removes.join(", ")}`);
    } else if (request.onRevoke === "trash") {
      await serve.call("DELETE", `/object/item/${action.id}`);
      say(`moved ${action.name}'s item to the trash`);
    } else if (request.onRevoke === "delete") {
      await serve.call("DELETE", `/object/item/${action.id}?permanent=true`);
      say(`deleted ${action.name}'s item permanently`);
    } else {
      say(`kept ${action.name}'s item (onRevoke: keep)`);
    }
  }
  return records;
}

/**
 * The items the step plans with: those named with the prefix and those the last run wrote,
 * from an unlocked vault synced just now. The runner's `refresh` reads them the same way.
 */
export async function readItems(serve: BwServe, prefix: string, previous: ReadonlyMap<string, VaultRecord>): Promise<VaultItem[]> {
  await serve.assertUnlocked();
  // Forced: bw skips a sync when its last one looks recent enough, which can hide an item
  // another client just made (and an adoption would then become a duplicate).
  await serve.call("POST", "/sync?force=true");
  const listed = await stableListing(serve, prefix);
  return [...listed, ...(await fetchMissing(serve, previous, listed))];
}

/**
 * The vault's items with the prefix, listed until two listings agree: right after a sync
 * bw may still be decrypting, and a short listing would turn updates into duplicates.
 */
async function stableListing(serve: BwServe, prefix: string): Promise<VaultItem[]> {
  const list = async () => (await serve.call<{ data: VaultItem[] }>("GET", `/list/object/items?search=${encodeURIComponent(prefix)}`)).data;
  let last = await list();
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((r) => setTimeout(r, 150));
    const next = await list();
    const same =
      next.length === last.length && next.every((item, i) => item.id === last[i].id && item.revisionDate === last[i].revisionDate);
    last = next;
    if (same) break;
  }
  return last;
}

/**
 * Items the last run wrote that a search did not return (renamed by hand, or a listing
 * that lags): fetched by id, so a stored item is never taken for missing and duplicated.
 */
async function fetchMissing(serve: BwServe, previous: ReadonlyMap<string, VaultRecord>, listed: VaultItem[]): Promise<VaultItem[]> {
  const seen = new Set(listed.map((i) => i.id));
  const fetched: VaultItem[] = [];
  for (const record of previous.values()) {
    if (seen.has(record.id)) continue;
    try {
      fetched.push(await serve.call<VaultItem>("GET", `/object/item/${record.id}`));
    } catch {
      // gone from the vault: the plan recreates it
    }
  }
  return fetched;
}

/** The records the last run printed (the command provider passes its stdout back), by user. */
export function previousRecords(stdout: string | undefined): Map<string, VaultRecord> {
  return new Map(previousResult(vaultResult, stdout)?.items ?? []);
}
