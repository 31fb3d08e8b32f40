/**
 * Where an auth config lives, as the components hand it to writers/write-auth-config.ts:
 * a file on this machine, or a FetchML server over SSH (its private key kept secret).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ServerSettings, Settings } from "../config/settings";

export interface AuthTarget {
  /** Resource name prefix: "auth-config" for the local file, "server-<name>" for a server. */
  readonly resourceName: string;
  /** Public description, for outputs and messages. */
  readonly label: string;
  /** What moves the target elsewhere (a change replaces the writer). */
  readonly identity: string;
  /** The writer's `target` object (secret when it holds a key). */
  readonly spec: pulumi.Output<object>;
}

export function authTargets(settings: Settings): AuthTarget[] {
  const targets: AuthTarget[] = [];
  if (settings.authConfigPath !== undefined) {
    targets.push({
      resourceName: "auth-config",
      label: settings.authConfigPath,
      identity: settings.authConfigPath,
      spec: pulumi.output({ kind: "local", path: settings.authConfigPath, reload: settings.reloadCommand }),
    });
  }
  for (const server of settings.servers) targets.push(sshTarget(server));
  return targets;
}

function sshTarget(server: ServerSettings): AuthTarget {
  const where = `${server.user}@${server.host}:${server.port}:${server.configPath}`;
  return {
    resourceName: `server-${server.name}`,
    label: `${server.name} (${where})`,
    identity: where,
    spec: pulumi.secret({
      kind: "ssh",
      name: server.name,
      host: server.host,
      port: server.port,
      user: server.user,
      privateKey: server.privateKey,
      hostKey: server.hostKey,
      path: server.configPath,
      owner: server.owner,
      group: server.group,
      reload: server.reloadCommand,
    }),
  };
}
