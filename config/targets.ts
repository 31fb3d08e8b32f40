/**
 * The auth configs this stack manages, from its settings: the local file and each server,
 * with what the plan and the messages need besides the spec the steps take.
 */
import type { ServerSettings, TargetSpec } from "../targets/spec";
import type { Settings } from "./settings";

/** One auth config this stack manages, with the resource name its steps are named after (its three names: targets/spec.ts). */
export interface AuthTarget {
  /** "auth-config" for the local file, "server-<server name>" for a server. */
  resourceName: string;
  spec: TargetSpec;
  /** Where stack config names its file ("authConfigPath", "servers[0].configPath"), for messages. */
  setting: string;
  /** Whether up may create the file when it does not exist (else the preview refuses). */
  createIfMissing: ServerSettings["createIfMissing"];
}

/** The resource name of the local target (`authConfigPath`); a server's is `server-<name>`. */
export const LOCAL_TARGET = "auth-config";

export function authTargets(settings: Settings): AuthTarget[] {
  const targets: AuthTarget[] = [];
  if (settings.authConfigPath !== undefined) {
    targets.push({
      resourceName: LOCAL_TARGET,
      spec: {
        kind: "local",
        configPath: settings.authConfigPath,
        ...(settings.reloadCommand ? { reloadCommand: settings.reloadCommand } : {}),
      },
      setting: "authConfigPath",
      createIfMissing: settings.createIfMissing,
    });
  }
  settings.servers.forEach(({ createIfMissing, ...server }, i) =>
    targets.push({
      resourceName: `server-${server.name}`,
      spec: { kind: "ssh", ...server },
      setting: `servers[${i}].configPath`,
      createIfMissing,
    }),
  );
  return targets;
}
