/**
 * Everything a run reads before it plans, read-only: the last run's outputs, every target as
 * it is now, and the delivery directory. A target or directory that cannot be used as it is
 * (bad YAML, a wrong host key, a broken record, an unsafe path) stops the run, said plainly.
 */
import type { Settings } from "../config/settings";
import { type AuthTarget, authTargets, LOCAL_TARGET } from "../config/targets";
import { readFileIfExists } from "../lib/atomicFile";
import { parseTargetRecord, recordPath } from "../lib/targetRecord";
import type { DeliveryReading } from "../lib/deliveryPlan";
import { AdminError } from "../lib/adminError";
import { onPath } from "../steps/bitwarden/bw";
import { readTarget, type TargetReading } from "../targets/read";
import { targetLabel } from "../targets/spec";
import { readDelivery } from "./delivery";
import { recordedResourceName } from "./outputs";
import { type PreviousRun, readPreviousRun } from "./previousRun";
import { refusal } from "./refusal";

export interface World {
  previous: PreviousRun;
  /** Each target from stack config, with what is on it now. */
  targets: Array<AuthTarget & { reading: TargetReading }>;
  /** The delivery directory (its real path) and what is in it now; absent without deliveryDir. */
  delivery?: DeliveryReading;
  /** A configured `bitwarden.cli` that is not there to run (removed, not executable). */
  missingBw?: string;
  /**
   * The local file the last run wrote when this run no longer names it (moved, or removed from
   * stack config), if its record says a replacement of the write step did not finish: its
   * entries would then stay there, whatever the plan says (lib/runPlan.ts refuses).
   */
  unfinishedElsewhere?: string;
}

export async function readWorld(settings: Settings, stack: string): Promise<World> {
  const previous = await readPreviousRun();
  const targets = await Promise.all(
    authTargets(settings).map(async (target) => {
      const reading = await readTarget(target.spec, targetLabel(target.spec)).catch(refuseKnown);
      // A local file is handed to its steps as its real path: another spelling of it changes nothing.
      const spec = target.spec.kind === "local" && reading.identity ? { ...target.spec, configPath: reading.identity } : target.spec;
      return { ...target, spec, reading };
    }),
  );
  const directFiles = settings.users.filter((user) => user.delivery === "direct").map((user) => `${user.name}.toml`);
  // The delivery directory as it really is (its real path: another spelling changes nothing) and what is in it now.
  const delivery =
    settings.deliveryDir !== undefined ? refuseAdminErrors(() => readDelivery(settings.deliveryDir!, directFiles)) : undefined;
  // The bw the vault step would run, found as it would find it: gone, a key change would stop at the vault check.
  const cli = settings.bitwarden?.cli;
  const missingBw = cli !== undefined && onPath(cli, process.env.PATH) === undefined ? cli : undefined;
  const unfinishedElsewhere = unfinishedAt(previous, targets, stack);
  return {
    previous,
    targets,
    ...(delivery ? { delivery } : {}),
    ...(missingBw ? { missingBw } : {}),
    ...(unfinishedElsewhere ? { unfinishedElsewhere } : {}),
  };
}

/** World.unfinishedElsewhere: read from the last run's local file (a server no longer named is not read). */
function unfinishedAt(previous: PreviousRun, targets: World["targets"], stack: string): string | undefined {
  const before = previous.targets.find((t) => recordedResourceName(t) === LOCAL_TARGET);
  if (!before?.identity || targets.some((t) => t.reading.identity === before.identity)) return undefined;
  try {
    const record = parseTargetRecord(readFileIfExists(recordPath(before.identity)), before.identity);
    return record?.stack === stack && record.replaced !== undefined ? before.identity : undefined;
  } catch {
    return undefined; // gone or unreadable: nothing this run could take off it either
  }
}

function refuseAdminErrors<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    refuseKnown(e);
  }
}

/** A target or directory that cannot be used as it is (bad YAML, a wrong host key, a broken record, an unsafe path) stops the run, said plainly. */
function refuseKnown(e: unknown): never {
  if (e instanceof AdminError) throw refusal(e.message);
  throw e;
}
