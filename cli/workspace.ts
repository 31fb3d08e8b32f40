/**
 * The one way to open a stack of this project through the Automation API, shared by the
 * runner and the end-to-end tests (so what the tests prove is what an admin runs):
 * LocalWorkspace on the project root (its Pulumi.yaml and stacks/), the engine from
 * ensureEngine, plugins and language host from choosePlugins. The runner runs index.ts
 * inline (no language host needed); `program: "local"` runs it as plain `pulumi` does,
 * through the Node.js language host, which is how the tests drive the plain path.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { DEV_PASSPHRASE } from "../config/exposure";
// index.ts uses `export =`: with esModuleInterop the default import is the program function.
import program from "../index";
import { ensureEngine, type Engine } from "./engine";
import { PROJECT_NAME, PROJECT_ROOT } from "./paths";
import { choosePlugins, enginePath, type PluginChoice } from "./plugins";

/**
 * Options every `up` of this project gets (the runner's and the tests'). Deliberately NOT
 * `continueOnError`: with it, a failed step makes the program's dependent registrations
 * fail, and the engine then deletes what the program did not register, which runs the
 * auth writers' delete and takes users off a server (seen in the SSH e2e test). Without it
 * a failure stops the run and deletes nothing; steps already running still finish.
 */
export const UP_OPTIONS = {} as const;

export interface OpenStackOptions {
  stackName: string;
  /** Extra environment for the engine (and so for plugins and the commands they run). */
  env?: Record<string, string>;
  /** inline: the program runs in this process (the runner); local: as plain `pulumi up` runs it. */
  program?: "inline" | "local";
}

export interface OpenedStack {
  stack: Stack;
  engine: Engine;
  plugins: PluginChoice[];
}

export async function openStack(options: OpenStackOptions): Promise<OpenedStack> {
  const engine = ensureEngine();
  const base = { ...process.env, ...options.env } as Record<string, string>;
  const plugins = choosePlugins(path.dirname(engine.binary), base);
  const envVars: Record<string, string> = {
    ...options.env,
    PATH: enginePath(plugins, base.PATH),
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
  // Each plugin is installed or offline: never reach for the network to fetch one (unless
  // the admin forced the real plugins, which the engine may then download).
  if (base.FETCHML_KEYS_PLUGINS !== "real") envVars.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
  if (options.stackName === "dev" && !base.PULUMI_CONFIG_PASSPHRASE && !base.PULUMI_CONFIG_PASSPHRASE_FILE) {
    envVars.PULUMI_CONFIG_PASSPHRASE = DEV_PASSPHRASE;
  }
  if (!base.PULUMI_BACKEND_URL) fs.mkdirSync(path.join(PROJECT_ROOT, ".pulumi-state"), { recursive: true });
  const pulumiCommand = await PulumiCommand.get({ root: engine.root });
  const stack =
    options.program === "local"
      ? await LocalWorkspace.createOrSelectStack({ stackName: options.stackName, workDir: PROJECT_ROOT }, { pulumiCommand, envVars })
      : await LocalWorkspace.createOrSelectStack(
          { stackName: options.stackName, projectName: PROJECT_NAME, program },
          { workDir: PROJECT_ROOT, pulumiCommand, envVars },
        );
  return { stack, engine, plugins };
}
