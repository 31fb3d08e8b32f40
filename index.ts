/**
 * fetchml-keys: users declared in stack config become API keys, hashes in the FetchML
 * servers' auth configs, and deliveries (Bitwarden items or ml config files). Both plain
 * `pulumi up` and the runner (cli/) run this module's export.
 *
 * A run: read stack config (config/), the last run's record and every target (what is there
 * now), plan keys and access (lib/), print the plan and refuse what must not happen, then
 * declare the resources, in this order: revocations on every target (never waiting on
 * Bitwarden) -> keys (a Bitwarden user's key only once the vault opened) -> vault items ->
 * each target's auth config (a new hash reaches a server only once its key can be fetched).
 */
import * as pulumi from "@pulumi/pulumi";
import { exposureProblems } from "./config/exposure";
import { authTargets, ConfigError, parseSettings, readNamespace, type Settings, stackFileName, strayKeys } from "./config/settings";
import { AuthConfig } from "./components/authConfig";
import { AuthRevocation } from "./components/authRevocation";
import { BitwardenVault } from "./components/bitwardenVault";
import { DirectDelivery } from "./components/directDelivery";
import { DeliveryDirError, readDelivery } from "./program/delivery";
import { deliveryLines } from "./lib/deliveryPlan";
import { readPreviousRun } from "./program/previousRun";
import { UserKey } from "./components/userKey";
import { vaultCheckHook } from "./program/vaultCheck";
import { planAccess, type RunSettings } from "./lib/accessPlan";
import { AdminError } from "./lib/adminError";
import { missingTargets } from "./lib/missingTarget";
import { isoSeconds, now, planKeys } from "./lib/keyPlan";
import { readTarget } from "./targets/read";
import { targetLabel, type TargetSpec } from "./targets/spec";

async function program() {
  const settings = loadSettings();
  const stack = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const previous = await readPreviousRun();
  const clock = now();
  const keys = planKeys(settings.users, settings.rotateAll, previous.users, clock, settings.expiryWarningDays);
  const targets = authTargets(settings);
  const readings = await Promise.all(targets.map((t) => readTarget(t.spec, targetLabel(t.spec)).catch(refuseKnown)));
  // A local file is handed to its steps as its real path: another spelling of it changes nothing.
  targets.forEach((t, i) => {
    const identity = readings[i].identity;
    if (t.spec.kind === "local" && identity) t.spec = { ...t.spec, configPath: identity };
  });
  const direct = settings.users.filter((user) => user.delivery === "direct");
  const directFiles = direct.map((user) => `${user.name}.toml`);
  // The delivery directory as it really is (its real path: another spelling changes nothing) and what is in it now.
  const delivery = settings.deliveryDir !== undefined ? readDeliveryOrRefuse(settings.deliveryDir, directFiles) : undefined;
  const runSettings: RunSettings = {
    preserveEntries: [...settings.preserveEntries].sort(),
    deliveryDir: delivery?.dir ?? null,
    client: { workerHost: settings.client.workerHost, workerPort: settings.client.workerPort, apiUrl: settings.client.apiUrl },
    bitwardenOrganization: settings.bitwarden?.organizationId ?? null,
  };
  const access = planAccess({
    stack,
    users: settings.users,
    keys,
    previousUsers: previous.users,
    targets: targets.map((t, i) => ({ name: t.name, reading: readings[i], reload: reloadOf(t.spec) })),
    previousTargets: previous.targets,
    preserve: settings.preserveEntries,
    maxRevokedShare: settings.maxRevokedShare,
    settings: runSettings,
    previousSettings: previous.settings,
  });
  const missing = missingTargets(
    targets.map((t, i) => ({ ...t, label: readings[i].label, reading: readings[i] })),
    previous.targets,
    stackFileName(pulumi.getStack()),
  );
  // Before the plan is printed: its lines would describe a run (a move, a new file) that is refused.
  if (access.conflicts.length + missing.length > 0) throw refusal([...access.conflicts, ...missing].join("\n"));
  // Users whose delivered file should already be right: delivered directly last run, same key.
  const settled = direct
    .filter((user) => previous.users.get(user.name)?.delivery === "direct" && !keys.get(user.name)!.change)
    .map((user) => user.name);
  const lines = [...access.lines, ...(delivery ? deliveryLines(delivery, previous.delivery, settled) : [])];
  // The plan, in every preview and up (the runner's `summary` prints just these lines).
  for (const line of lines) (line.startsWith("!") ? pulumi.log.warn : pulumi.log.info)(line);
  if (access.massRevocation && process.env.FETCHML_KEYS_ALLOW_MASS_REVOCATION !== "1") throw refusal(access.massRevocation);

  const keep = [...settings.users.filter((user) => !user.suspended).map((user) => user.name), ...settings.preserveEntries];
  const identity = (name: string, spec: (typeof targets)[number]["spec"]) => access.targets.get(name)!.identity ?? targetLabel(spec);
  const revocations = targets.map(
    (target) => new AuthRevocation(target.name, { stack, target: target.spec, keep, identity: identity(target.name, target.spec) }),
  );
  const vaultCheck = settings.bitwarden ? vaultCheckHook(settings.bitwarden) : undefined;
  const users = settings.users.map((user) => ({
    user,
    key: new UserKey(
      user.name,
      {
        user,
        keeper: keys.get(user.name)!.keeper,
        client: settings.client,
        beforeKeyChange: user.delivery === "bitwarden" ? vaultCheck : undefined,
      },
      // The vault check (a `bw` process) runs as such a key changes: only once every revocation is done.
      user.delivery === "bitwarden" ? { dependsOn: revocations } : undefined,
    ),
  }));
  const active = users.filter(({ user }) => !user.suspended);
  const vaultUsers = users.filter(({ user }) => user.delivery === "bitwarden");
  const vault = settings.bitwarden
    ? new BitwardenVault(
        "bitwarden",
        {
          settings: settings.bitwarden,
          users: vaultUsers.map(({ user, key }) => ({
            name: user.name,
            collectionIds: user.collectionIds!,
            apiKey: key.apiKey,
            apiKeyHash: key.apiKeyHash,
            fingerprint: key.fingerprint,
          })),
        },
        { dependsOn: revocations },
      )
    : undefined;
  const authConfigs = targets.map((target, i) => {
    const plan = access.targets.get(target.name)!;
    return new AuthConfig(
      target.name,
      {
        stack,
        target: target.spec,
        identity: identity(target.name, target.spec),
        users: active.map(({ user, key }) => ({ name: user.name, access: user.access, apiKeyHash: key.apiKeyHash })),
        preserve: settings.preserveEntries,
        reading: readings[i],
        verify: plan.verify,
        recordLost: plan.recordLost,
      },
      { dependsOn: [revocations[i], ...(vault ? [vault] : [])] },
    );
  });
  const directDelivery = delivery
    ? new DirectDelivery("delivery", {
        reading: delivery,
        previous: previous.delivery,
        settled,
        files: users.filter(({ user }) => user.delivery === "direct").map(({ user, key }) => ({ name: user.name, mlConfig: key.mlConfig })),
      })
    : undefined;

  const byName = <T>(pick: (key: UserKey) => pulumi.Output<T>) =>
    pulumi.all(Object.fromEntries(users.map(({ user, key }) => [user.name, pick(key)])));

  return {
    /** Public audit view, and the next run's memory: who has which access and which key since when. */
    users: pulumi.all(
      Object.fromEntries(
        users.map(({ user, key }) => {
          const plan = keys.get(user.name)!;
          return [
            user.name,
            key.fingerprint.apply((fingerprint) => ({
              role: user.role,
              admin: user.access.admin,
              roles: user.access.roles,
              permissions: user.access.permissions,
              delivery: user.delivery,
              rotation: user.rotation,
              status: user.suspended ? "suspended" : "active",
              fingerprint,
              // The same key as last run keeps its issue time; a new one was issued now.
              issuedAt: plan.previous?.fingerprint === fingerprint && plan.previous.issuedAt ? plan.previous.issuedAt : isoSeconds(clock),
              maxKeyAgeDays: user.maxKeyAgeDays ?? null,
              autoRotations: plan.autoRotations,
              keeper: plan.keeper,
              // Who else can read the key: the next plan names a change of these.
              collectionIds: user.delivery === "bitwarden" ? user.collectionIds! : null,
            })),
          ];
        }),
      ),
    ),
    /** Each target, what it really is, and the entries this stack manages there. */
    authTargets: targets.map((target, i) => ({
      name: target.name,
      label: targetLabel(target.spec),
      identity: authConfigs[i].identity,
      managed: authConfigs[i].managed,
      // What the next run continues from if this target's record goes missing.
      generation: authConfigs[i].generation.apply((g) =>
        /^\d+$/.test(g) ? Number(g) : (previous.targets.find((t) => t.name === target.name)?.generation ?? null),
      ),
      // Runs as the admin (or the SSH user) after each change: the next plan names a change of it.
      reloadCommand: target.spec.reloadCommand ?? null,
    })),
    /** Where keys go and what users receive, stack-wide (public), for the next run's plan. */
    settings: runSettings,
    vaultItems: vault ? vault.itemIds : {},
    /** The delivery directory (real path) and the generation its step was given: the next run's drift check. */
    ...(directDelivery ? { delivery: { dir: delivery!.dir, generation: directDelivery.generation, files: directDelivery.files } } : {}),
    apiKeys: pulumi.secret(byName((key) => key.apiKey)),
    mlConfigs: pulumi.secret(byName((key) => key.mlConfig)),
  };
}

/** A target's reload command and where it runs, as the plan says it. */
function reloadOf(spec: TargetSpec): { command?: string; where: string } {
  return { command: spec.reloadCommand, where: spec.kind === "ssh" ? `as ${spec.user} on ${spec.host}` : "as you, on this machine" };
}

/** Validated whole before anything is read or declared: a bad config changes nothing. */
function loadSettings(): Settings {
  try {
    const config = pulumi.runtime.allConfig();
    const settings = parseSettings(readNamespace(config), strayKeys(Object.keys(config)));
    const exposed = exposureProblems(settings, pulumi.getStack());
    if (exposed.length > 0) throw new ConfigError(exposed);
    return settings;
  } catch (e) {
    // Named by its file: the engine's own framing around a program's error never says which file.
    if (e instanceof ConfigError) throw refusal(`${stackFileName(pulumi.getStack())}: ${e.message}`);
    throw e;
  }
}

/**
 * Why the program stops, for the admin: a RunError, which the engine prints once without a
 * stack trace. Its stack is the message itself: @pulumi/pulumi formats every uncaught error's
 * stack (for tracing), and under ts-node mapping the frames took 13 s of CPU here.
 */
function refusal(message: string): pulumi.RunError {
  const error = new pulumi.RunError(message);
  error.stack = message;
  return error;
}

function readDeliveryOrRefuse(dir: string, files: string[]) {
  try {
    return readDelivery(dir, files);
  } catch (e) {
    if (e instanceof DeliveryDirError) throw refusal(e.message);
    throw e;
  }
}

/** A target that cannot be used as it is (bad YAML, a wrong host key, a broken record) stops the run, said plainly. */
function refuseKnown(e: unknown): never {
  if (e instanceof AdminError) throw refusal(e.message);
  throw e;
}

// `export =`, not `export default`: @pulumi/pulumi's cmd/run calls a CommonJS module's export
// only when the export itself is a function (a default export would run nothing under plain
// `pulumi up`, and on an existing stack delete every resource).
export = program;
