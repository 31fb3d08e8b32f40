/**
 * A throw-away stack of this project for end-to-end tests: the real engine through the
 * runner's own openStack, a file:// backend and a FetchML server config in a temp dir, and
 * a stack file stacks/Pulumi.e2e-<id>.yaml (git-ignored, removed by cleanup()).
 *
 * Every operation runs one of two ways, on the same stack and state: `runner` (the program
 * inline, as `npm run keys` runs it) or `plain` (as plain `pulumi up` runs it: a local
 * program started by the Node.js language host). `via` picks the way for what follows.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { parseDocument, stringify } from "yaml";
import { PROJECT_ROOT } from "../../cli/paths";
import { previewAccess } from "../../cli/summary";
import { openStack, UP_OPTIONS, type OpenedStack } from "../../cli/workspace";
import { killUpWhen, ProcessWatch } from "./processWatch";

export const E2E_PASSPHRASE = "e2e-only-passphrase";

/** A backend other than the default file:// one: its URL for a table (or prefix) name, and all it holds. */
export interface E2EBackend {
  url(table: string): string;
  dump(table: string): string;
  /** More environment the backend needs (PGPASSWORD). */
  env?: Record<string, string>;
}
export type Via = "runner" | "plain";

/**
 * The operations of a preview or up that change something: "same" and "read" are not
 * changes.
 */
export function changesIn(summary: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(summary).filter(([op, n]) => op !== "same" && op !== "read" && n) as Array<[string, number]>);
}

export class E2EStack {
  readonly log: string[] = [];
  readonly watch = new ProcessWatch();
  /** The engine's environment for the next operations, whichever way they run. */
  readonly env: Record<string, string>;
  private readonly opened = new Map<Via, OpenedStack>();

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly stackFile: string,
    public via: Via,
    first: OpenedStack,
  ) {
    this.opened.set(via, first);
    this.env = { ...(first.stack.workspace as LocalWorkspace).envVars };
  }

  static async create(
    config: Record<string, unknown>,
    options: { via?: Via; passphraseFile?: string; backend?: E2EBackend; watchProcesses?: boolean } = {},
  ): Promise<E2EStack> {
    const name = `e2e-${randomBytes(4).toString("hex")}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fetchml-${name}-`));
    fs.mkdirSync(path.join(dir, "state"));
    const stackFile = path.join(PROJECT_ROOT, "stacks", `Pulumi.${name}.yaml`);
    writeStackConfig(stackFile, config);
    const via = options.via ?? "runner";
    const backendUrl = options.backend?.url(name.replace("-", "_")) ?? `file://${path.join(dir, "state")}`;
    const base: Record<string, string> = options.passphraseFile
      ? { PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE_FILE: options.passphraseFile }
      : { PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: E2E_PASSPHRASE };
    Object.assign(base, options.backend?.env);
    const opened = await E2EStack.open(name, via, base);
    const e2e = new E2EStack(name, dir, stackFile, via, opened);
    if (options.backend) e2e.backendDump = () => options.backend!.dump(name.replace("-", "_"));
    e2e.watchProcesses = options.watchProcesses ?? true;
    return e2e;
  }

  /** Everything the backend holds, as text (a file:// backend: its files). */
  private backendDump?: () => string;
  /**
   * Whether operations fill `watch` (a scan of /proc every 15 ms). The bench turns it off: the
   * scan costs this process seconds of CPU per operation at 500 users, which the engine floor
   * it is compared with does not pay, and it counts processes its own way.
   */
  private watchProcesses = true;

  private watched<T>(operation: () => Promise<T>): Promise<T> {
    return this.watchProcesses ? this.watch.during(operation) : operation();
  }

  private static open(name: string, via: Via, env: Record<string, string>): Promise<OpenedStack> {
    return openStack({ stackName: name, create: true, program: via === "plain" ? "local" : "inline", env });
  }

  /** The stack opened the current way, its engine environment brought up to date. */
  async current(): Promise<OpenedStack> {
    let opened = this.opened.get(this.via);
    if (!opened) {
      const { PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PULUMI_CONFIG_PASSPHRASE_FILE, PGPASSWORD } = this.env;
      const base: Record<string, string> = PULUMI_CONFIG_PASSPHRASE_FILE
        ? { PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE_FILE }
        : { PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE };
      if (PGPASSWORD) base.PGPASSWORD = PGPASSWORD;
      opened = await E2EStack.open(this.name, this.via, base);
      this.opened.set(this.via, opened);
    }
    const envVars = (opened.stack.workspace as LocalWorkspace).envVars;
    for (const key of Object.keys(envVars)) if (!(key in this.env)) delete envVars[key];
    Object.assign(envVars, this.env);
    return opened;
  }

  get stack(): Stack {
    return [...this.opened.values()][0].stack;
  }

  get engineBinary(): string {
    return [...this.opened.values()][0].engine.binary;
  }

  /**
   * Encrypts a value with the stack's secrets provider (value on stdin, never argv) and
   * returns what goes in stack config: { secure: "<ciphertext>" }.
   */
  encryptSecret(value: string): { secure: string } {
    execFileSync(this.engineBinary, ["config", "set", "--secret", "fetchml-keys:e2eSecret", "--stack", this.name], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...this.env },
      input: value,
      stdio: ["pipe", "ignore", "inherit"],
    });
    const stored = parseDocument(fs.readFileSync(this.stackFile, "utf8")).toJS();
    return { secure: stored.config["fetchml-keys:e2eSecret"].secure };
  }

  /** Replaces the stack's config (keeping the encryption salt the engine added). */
  setConfig(config: Record<string, unknown>): void {
    writeStackConfig(this.stackFile, config);
  }

  private stream() {
    return { onOutput: (s: string) => this.log.push(s) };
  }

  async up(options: { replace?: string[] } = {}) {
    const { stack } = await this.current();
    return this.watched(() => stack.up({ ...UP_OPTIONS, ...this.stream(), ...options }));
  }

  /**
   * `up --replace <the resource whose URN ends with urnSuffix>`, killed (the engine and all
   * under it) once `written()` says the new step wrote: how many processes were killed, and
   * how the up ended.
   */
  async replaceKilledWhen(urnSuffix: string, written: () => boolean): Promise<{ killed: number; outcome: "finished" | "failed" }> {
    const state = JSON.parse(this.exportWithoutSecrets()) as { deployment: { resources: Array<{ urn: string }> } };
    const urn = state.deployment.resources.map((r) => r.urn).find((u) => u.endsWith(urnSuffix));
    if (!urn) throw new Error(`no resource in state ends with ${urnSuffix}`);
    const running = this.up({ replace: [urn] }).then(
      () => "finished" as const,
      () => "failed" as const,
    );
    const killed = await killUpWhen(this.name, written);
    return { killed, outcome: await running };
  }

  async preview(options: { replace?: string[]; expectNoChanges?: boolean } = {}) {
    const { stack } = await this.current();
    return this.watched(() => stack.preview({ ...this.stream(), ...options }));
  }

  /** The runner's `summary` on this stack: its lines (and, in `refused`, why the program refused). */
  async summary(options: { replace?: string[] } = {}): Promise<string[] & { refused?: string }> {
    const { stack } = await this.current();
    const access = await previewAccess(stack, { ...options, onOutput: (s: string) => this.log.push(s) });
    return Object.assign(access.lines, { refused: access.refused });
  }

  /**
   * Sets a variable the program reads (the clock, the mass-revocation switch) for both ways
   * of running: the runner's program runs in this process, plain pulumi's under the engine.
   */
  setProgramEnv(name: string, value: string | undefined): void {
    if (value === undefined) {
      delete process.env[name];
      delete this.env[name];
    } else {
      process.env[name] = value;
      this.env[name] = value;
    }
  }

  async refresh() {
    const { stack } = await this.current();
    return this.watched(() => stack.refresh(this.stream()));
  }

  async destroy() {
    const { stack } = await this.current();
    return this.watched(() => stack.destroy(this.stream()));
  }

  async cancel() {
    const { stack } = await this.current();
    await stack.cancel();
  }

  async outputs(): Promise<Record<string, any>> {
    const { stack } = await this.current();
    const outputs = await stack.outputs();
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  }

  /** The raw content of every file the file:// backend wrote. */
  backendFiles(): string {
    if (this.backendDump) return this.backendDump();
    const root = path.join(this.dir, "state");
    return (fs.readdirSync(root, { recursive: true }) as string[])
      .map((f) => path.join(root, f))
      .filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
  }

  /** `pulumi stack export` as an admin would run it (no --show-secrets). */
  exportWithoutSecrets(): string {
    return execFileSync(this.engineBinary, ["stack", "export", "--stack", this.name], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...this.env },
      encoding: "utf8",
    });
  }

  output(): string {
    return this.log.join("");
  }

  async cleanup(): Promise<void> {
    this.watch.stop();
    try {
      await this.stack.workspace.removeStack(this.name, { force: true });
    } catch {
      // the backend lives in the temp dir removed below
    }
    fs.rmSync(this.stackFile, { force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeStackConfig(file: string, config: Record<string, unknown>): void {
  const previous = fs.existsSync(file) ? parseDocument(fs.readFileSync(file, "utf8")).toJS() : {};
  const body: Record<string, unknown> = {
    config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`fetchml-keys:${k}`, v])),
  };
  if (previous?.encryptionsalt) body.encryptionsalt = previous.encryptionsalt;
  fs.writeFileSync(file, stringify(body));
}
