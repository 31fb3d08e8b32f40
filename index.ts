/**
 * fetchml-keys: users in stack config become API keys, hashes in the FetchML servers' auth
 * configs, and deliveries (Bitwarden items or ml config files); plain `pulumi up` and the runner
 * (cli/) both run this module's export. It only wires: settings (program/loadSettings.ts) and
 * what is there now (program/world.ts) -> the plan (whether and why each key changes:
 * lib/keyPlan.ts; the rest: lib/runPlan.ts) -> components, in this order:
 * revocations on every target (never waiting on Bitwarden) -> keys -> vault items -> each
 * target's auth config (a new hash reaches a server only once its key can be fetched) -> outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { stackFileName } from "./config/rawConfig";
import type { UserSettings } from "./config/settings";
import { AuthConfig } from "./components/authConfig";
import { AuthRevocation } from "./components/authRevocation";
import { BitwardenVault } from "./components/bitwardenVault";
import { DirectDelivery } from "./components/directDelivery";
import { type IssuedKey, UserKeys } from "./components/userKeys";
import { now, planKeys } from "./lib/keyPlan";
import { planRun, targetOutputOf, userRecordOf } from "./lib/runPlan";
import { loadSettings } from "./program/loadSettings";
import type { DeliveryOutput, TargetOutput, UserRecord } from "./program/outputs";
import { refusal } from "./program/refusal";
import { VaultCheck } from "./program/vaultCheck";
import { readWorld } from "./program/world";

async function program() {
  const settings = loadSettings();
  const stack = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const world = await readWorld(settings, stack);
  const clock = now();
  const keyPlans = planKeys(settings.users, settings.rotateAll, world.previous.users, clock, settings.expiryWarningDays);
  const plan = planRun(stack, settings, world, keyPlans, stackFileName(pulumi.getStack()));
  // Before the plan is printed: its lines would describe a run (a move, a new file) that is refused.
  if (plan.conflicts.length > 0) throw refusal(plan.conflicts.join("\n"));
  // The plan, in every preview and up (the runner's `summary` prints just these lines).
  for (const line of plan.lines) (line.startsWith("!") ? pulumi.log.warn : pulumi.log.info)(line);
  if (plan.access.massRevocation && process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION !== "1") throw refusal(plan.access.massRevocation);

  const { targets, delivery, previous } = world;
  const revocations = targets.map(
    (t) =>
      new AuthRevocation(t.resourceName, {
        stack,
        target: t.spec,
        keep: plan.keep,
        recordedIdentity: plan.recordedIdentity.get(t.resourceName)!,
      }),
  );
  const vaultCheck = settings.bitwarden ? new VaultCheck(stack, settings.bitwarden) : undefined;
  // The vault check (the run's `bw serve`) starts as a Bitwarden user's key changes: only once every revocation is done.
  const { keys } = new UserKeys("users", {
    users: settings.users,
    plans: keyPlans,
    client: settings.client,
    ...(vaultCheck ? { vault: { beforeKeyChange: vaultCheck.hook, after: revocations } } : {}),
  });
  const vaultUsers = settings.users
    .filter((user) => user.delivery === "bitwarden")
    .map(({ name, collectionIds }) => {
      const { apiKey, apiKeyHash, fingerprint } = keys.get(name)!;
      return { name, collectionIds: collectionIds!, apiKey, apiKeyHash, fingerprint };
    });
  const vault =
    settings.bitwarden &&
    new BitwardenVault("bitwarden", { stack, settings: settings.bitwarden, users: vaultUsers }, { dependsOn: revocations });
  // The vault step has used the check's `bw serve`: stop it now, not when the run ends.
  vault?.itemIds.apply(() => vaultCheck?.close());
  const authConfigs = targets.map((t, i) => {
    const { verify, recordLost } = plan.access.targets.get(t.resourceName)!;
    const users = plan.active.map(({ name, access }) => ({ name, access, apiKeyHash: keys.get(name)!.apiKeyHash }));
    const recordedIdentity = plan.recordedIdentity.get(t.resourceName)!;
    const args = {
      stack,
      target: t.spec,
      recordedIdentity,
      users,
      preserve: settings.preserveEntries,
      reading: t.reading,
      verify,
      recordLost,
    };
    return new AuthConfig(t.resourceName, args, { dependsOn: [revocations[i], ...(vault ? [vault] : [])] });
  });
  const files = settings.users
    .filter((user) => user.delivery === "direct")
    .map(({ name }) => ({ name, mlConfig: keys.get(name)!.mlConfig }));
  const directDelivery =
    delivery && new DirectDelivery("delivery", { stack, reading: delivery, previous: previous.delivery, settled: plan.settled, files });

  const byName = <T>(pick: (key: IssuedKey, user: UserSettings) => pulumi.Output<T>) =>
    pulumi.all(Object.fromEntries(settings.users.map((user) => [user.name, pick(keys.get(user.name)!, user)])));
  return {
    /** Public audit view, and the next run's memory: who has which access and which key since when. */
    users: byName((key, user): pulumi.Output<UserRecord> =>
      key.fingerprint.apply((fp) => userRecordOf(user, keyPlans.get(user.name)!, fp, clock)),
    ),
    /** Each target, what it really is, and the entries this stack manages there. */
    authTargets: targets.map((t, i): pulumi.Output<TargetOutput> =>
      pulumi
        .all([authConfigs[i].recordedIdentity, authConfigs[i].managed, authConfigs[i].generation])
        .apply(([recordedIdentity, managed, generation]) => targetOutputOf(t, { recordedIdentity, managed, generation }, previous)),
    ),
    /** Where keys go and what users receive, stack-wide (public), for the next run's plan. */
    settings: plan.settings,
    vaultItems: vault ? vault.itemIds : {},
    /** The generation the delivery step was given and the files it wrote: the next run's drift check. */
    ...(directDelivery && {
      delivery: pulumi
        .all([directDelivery.generation, directDelivery.files])
        .apply(([generation, files]): DeliveryOutput => ({ generation, files })),
    }),
    apiKeys: pulumi.secret(byName((key) => key.apiKey)),
    mlConfigs: pulumi.secret(byName((key) => key.mlConfig)),
  };
}

// `export =`, not `export default`: @pulumi/pulumi's cmd/run calls a CommonJS module's export
// only when the export itself is a function (a default export would run nothing under plain
// `pulumi up`, and on an existing stack delete every resource).
export = program;
