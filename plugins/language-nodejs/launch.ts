/**
 * How the Node.js language host starts a program, as pure functions (tested without an
 * engine). Written to what the real `pulumi-language-nodejs` does (pulumi/pulumi,
 * sdk/nodejs/cmd/pulumi-language-nodejs/main.go): the same `cmd/run` arguments in the same
 * order, the same environment variables, the same package discovery.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** What the engine sends in RunRequest, as plain values. */
export interface RunInput {
  monitorAddress: string;
  engineAddress: string;
  organization: string;
  project: string;
  stack: string;
  rootDirectory: string;
  programDirectory: string;
  entryPoint: string;
  dryRun: boolean;
  parallel: number;
  tracing: string;
  args: string[];
  /** Config keyed `<namespace>:<name>`. */
  config: Record<string, string>;
  configSecretKeys: string[];
  /** Pulumi.yaml's `runtime.options`. */
  options: Record<string, unknown>;
}

export interface NodeOptions {
  typescript: boolean;
  tsconfig?: string;
  nodeargs?: string;
}

/** `runtime.options` as the real host reads them: typescript defaults to true. */
export function parseOptions(options: Record<string, unknown>): NodeOptions {
  const parsed: NodeOptions = { typescript: true };
  if (options.typescript !== undefined) {
    if (typeof options.typescript !== "boolean") throw new Error("typescript option must be a boolean");
    parsed.typescript = options.typescript;
  }
  if (options.tsconfig !== undefined) {
    if (typeof options.tsconfig !== "string") throw new Error("tsconfigpath option must be a string");
    parsed.tsconfig = options.tsconfig;
  }
  if (options.nodeargs !== undefined) {
    if (typeof options.nodeargs !== "string") throw new Error("nodeargs option must be a string");
    parsed.nodeargs = options.nodeargs;
  }
  return parsed;
}

/** `node [nodeargs] <cmd/run> --monitor ... <entry point> [args]`: flags only when non-empty. */
export function runArguments(input: RunInput, runPath: string): string[] {
  const args = [runPath];
  const flag = (name: string, value: string) => {
    if (value !== "") args.push(`--${name}`, value);
  };
  flag("monitor", input.monitorAddress);
  flag("engine", input.engineAddress);
  flag("organization", input.organization);
  flag("project", input.project);
  flag("root-directory", input.rootDirectory);
  flag("stack", input.stack);
  flag("pwd", input.programDirectory);
  if (input.dryRun) args.push("--dry-run");
  flag("parallel", String(input.parallel));
  flag("tracing", input.tracing);
  args.push(input.entryPoint || ".", ...input.args);
  const nodeargs = parseOptions(input.options).nodeargs;
  return [...splitArgs(nodeargs ?? ""), ...args];
}

/**
 * The program's environment: the host's own, plus config in the legacy
 * `<namespace>:config:<name>` form the SDK reads, the secret keys, and the TypeScript switches.
 */
export function runEnvironment(input: RunInput, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.config)) {
    const colon = key.indexOf(":");
    if (colon < 0) throw new Error(`config key ${JSON.stringify(key)} has no namespace`);
    config[`${key.slice(0, colon)}:config:${key.slice(colon + 1)}`] = value;
  }
  const options = parseOptions(input.options);
  const env: NodeJS.ProcessEnv = {
    ...base,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(input.configSecretKeys),
  };
  if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
  if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  return env;
}

export interface PackageDependency {
  name: string;
  kind: "resource";
  version: string;
  server: string;
}

/**
 * Every package under a node_modules folder whose package.json says `pulumi.resource: true`:
 * the providers the program needs (their plugin name and version, `v`-prefixed).
 */
export function requiredPackages(programDirectory: string): PackageDependency[] {
  const found: PackageDependency[] = [];
  const visited = new Set<string>();
  const walk = (dir: string, inNodeModules: boolean) => {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      return;
    }
    if (visited.has(real)) return;
    visited.add(real);
    for (const entry of fs.readdirSync(real, { withFileTypes: true })) {
      const full = path.join(real, entry.name);
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        try {
          isDir = fs.statSync(full).isDirectory();
        } catch {
          continue;
        }
      }
      if (isDir) walk(full, inNodeModules || path.basename(real) === "node_modules");
      else if (inNodeModules && entry.name === "package.json") {
        const dependency = packageDependency(full);
        if (dependency) found.push(dependency);
      }
    }
  };
  walk(programDirectory, false);
  return found;
}

function packageDependency(file: string): PackageDependency | undefined {
  let info: { name?: string; version?: string; pulumi?: { resource?: boolean; name?: string; version?: string; server?: string } };
  try {
    info = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  if (!info.pulumi?.resource) return undefined;
  const name = info.pulumi.name || (info.name?.startsWith("@pulumi/") ? info.name.slice("@pulumi/".length) : undefined);
  const version = info.pulumi.version || info.version;
  if (!name || !version) return undefined;
  return { name, kind: "resource", version: version.startsWith("v") ? version : `v${version}`, server: info.pulumi.server ?? "" };
}

/** Splits `nodeargs` like a shell would (quotes, backslashes), as the real host does with shlex. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === "\\" && i + 1 < text.length) {
      current += text[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(current);
      current = "";
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (quote) throw new Error(`nodeargs: unclosed ${quote}`);
  if (started) out.push(current);
  return out;
}

/** The real host's exit code for "the program already told the user what went wrong". */
export const EXIT_AFTER_USER_MESSAGE = 32;

/** The RunResponse for a finished program: error text, or bail when it already reported. */
export function runResult(code: number | null, signal: NodeJS.Signals | null): { error: string; bail: boolean } {
  if (code === 0) return { error: "", bail: false };
  if (code === EXIT_AFTER_USER_MESSAGE) return { error: "", bail: true };
  if (code === null) return { error: `Program exited unexpectedly: signal ${signal}`, bail: false };
  return { error: `Program exited with non-zero exit code: ${code}`, bail: false };
}
