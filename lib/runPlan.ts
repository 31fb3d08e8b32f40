/**
 * The rest of a run's plan, from stack config, what the program read (program/world.ts) and
 * each user's key plan (lib/keyPlan.ts, which index.ts asks first), pure: access on every
 * target (lib/accessPlan.ts), targets that are missing (lib/missingTarget.ts), deliveries that
 * should already be right, and the lines the preview prints. index.ts declares resources from
 * it and decides nothing itself.
 */
import type { Settings, UserSettings } from "../config/settings";
import { recordedResourceName, type SettingsOutput, type TargetOutput, toTargetOutput, type UserRecord } from "../program/outputs";
import type { World } from "../program/world";
import { targetLabel, type TargetSpec } from "../targets/spec";
import { type AccessPlan, planAccess } from "./accessPlan";
import { deliveryLines } from "./deliveryPlan";
import { issuedAt, type KeyPlan } from "./keyPlan";
import { missingTargets } from "./missingTarget";
import { quoted } from "./printable";
import { UNFINISHED_REPLACEMENT } from "./targetRecord";
import { otherStack } from "../steps/delivery";

export interface RunPlan {
  access: AccessPlan;
  /** Why the run must not go ahead (another stack's file, two targets that are one, a missing file); empty when it may. */
  conflicts: string[];
  /** The plan's lines, in the order printed ("! ..." lines are warnings). */
  lines: string[];
  /** This run's `settings` output. */
  settings: SettingsOutput;
  /** Users whose hash belongs on the targets: declared and not suspended. */
  active: UserSettings[];
  /** Entries that may stay on a target: active users and preserved entries. */
  keep: string[];
  /** Direct users whose delivered file should already be right: delivered directly last run, same key. */
  settled: string[];
  /**
   * What each target really is as this run records it (the `authTargets` output's `identity`),
   * by resource name: its identity, else the last run's record of it, else, for a target never
   * reached, its label.
   */
  recordedIdentity: Map<string, string>;
}

export function planRun(stack: string, settings: Settings, world: World, keys: Map<string, KeyPlan>, stackFile: string): RunPlan {
  const { previous, targets, delivery } = world;
  const runSettings: SettingsOutput = {
    stack,
    preserveEntries: [...settings.preserveEntries].sort(),
    deliveryDir: delivery?.dir ?? null,
    client: { workerHost: settings.client.workerHost, workerPort: settings.client.workerPort, apiUrl: settings.client.apiUrl },
    bitwardenOrganization: settings.bitwarden?.organizationId ?? null,
    bitwardenCli: settings.bitwarden?.cli ?? null,
    bitwardenItemPrefix: settings.bitwarden?.itemPrefix ?? null,
    bitwardenOnRevoke: settings.bitwarden?.onRevoke ?? null,
    bitwardenRepair: settings.bitwarden?.repair ?? null,
  };
  const access = planAccess({
    stack,
    users: settings.users,
    keys,
    previousUsers: previous.users,
    targets: targets.map((t) => ({
      resourceName: t.resourceName,
      reading: t.reading,
      reload: reloadOf(t.spec),
      ownership: ownershipOf(t.spec),
    })),
    previousTargets: previous.targets,
    preserve: settings.preserveEntries,
    maxRevokedShare: settings.maxRevokedShare,
    settings: runSettings,
    previousSettings: previous.settings,
  });
  const missing = missingTargets(
    targets.map((t) => ({ ...t, label: t.reading.label })),
    previous.targets,
    stackFile,
  );
  const settled = settings.users
    .filter((user) => user.delivery === "direct" && previous.users.get(user.name)?.delivery === "direct" && !keys.get(user.name)!.change)
    .map((user) => user.name);
  const active = settings.users.filter((user) => !user.suspended);
  return {
    access,
    conflicts: [
      ...access.conflicts,
      ...missing,
      ...(delivery?.stack && delivery.stack !== stack ? [otherStack(delivery.dir, delivery.stack, "this stack will not write there")] : []),
      ...(world.unfinishedElsewhere
        ? [
            `${world.unfinishedElsewhere}, which the last run wrote and this run no longer names: its record says a replacement of its write step ${UNFINISHED_REPLACEMENT}, so its entries would stay there. Run up with it still configured first (it repairs the record), then move or remove it`,
          ]
        : []),
    ],
    lines: [
      ...access.lines,
      ...(delivery ? deliveryLines(delivery, previous.delivery, settled) : []),
      ...(world.missingBw
        ? [
            `! bitwarden.cli ${quoted(world.missingBw)}: not found, or not executable: a run that changes a Bitwarden user's key stops at the vault check, before any key changes`,
          ]
        : []),
    ],
    settings: runSettings,
    active,
    keep: [...active.map((user) => user.name), ...settings.preserveEntries],
    settled,
    recordedIdentity: new Map(targets.map((t) => [t.resourceName, access.targets.get(t.resourceName)!.identity ?? targetLabel(t.spec)])),
  };
}

/** A target's reload command and where it runs, as the plan says it. */
function reloadOf(spec: TargetSpec): { command?: string; where: string } {
  return { command: spec.reloadCommand, where: spec.kind === "ssh" ? `as ${spec.user} on ${spec.host}` : "as you, on this machine" };
}

/** The user and group a target's write gives its file (only a server's can be set); null: kept as found. */
function ownershipOf(spec: TargetSpec): { owner: string | null; group: string | null } {
  return spec.kind === "ssh" ? { owner: spec.owner ?? null, group: spec.group ?? null } : { owner: null, group: null };
}

/** A user's record in the `users` output, once their key's fingerprint is known. */
export function userRecordOf(user: UserSettings, key: KeyPlan, fingerprint: string, clock: Date): UserRecord {
  return {
    role: user.role,
    admin: user.access.admin,
    roles: user.access.roles,
    permissions: user.access.permissions,
    delivery: user.delivery,
    rotation: user.rotation,
    status: user.suspended ? "suspended" : "active",
    fingerprint,
    // The same key as last run keeps its issue time; a new one was issued now.
    issuedAt: issuedAt(key, fingerprint, clock),
    maxKeyAgeDays: user.maxKeyAgeDays ?? null,
    autoRotations: key.autoRotations,
    keeper: key.keeper,
    // Who else can read the key: the next plan names a change of these.
    collectionIds: user.delivery === "bitwarden" ? user.collectionIds! : null,
  };
}

/**
 * A target's record in the `authTargets` output. `generation` is what its write step was given;
 * a target not reached this run (null) keeps what the last run recorded, which the next
 * run continues from if the target's record goes missing.
 */
export function targetOutputOf(
  target: { resourceName: string; spec: TargetSpec },
  written: { recordedIdentity: string; managed: string[]; generation: number | null },
  previous: World["previous"],
): TargetOutput {
  return toTargetOutput({
    resourceName: target.resourceName,
    label: targetLabel(target.spec),
    identity: written.recordedIdentity,
    managed: written.managed,
    generation: written.generation ?? previous.targets.find((t) => recordedResourceName(t) === target.resourceName)?.generation ?? null,
    reloadCommand: target.spec.reloadCommand ?? null,
    ...ownershipOf(target.spec),
  });
}
