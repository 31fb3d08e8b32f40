/**
 * A throw-away stack of this project for end-to-end tests: the real engine through the
 * runner's own openStack, a file:// backend and a FetchML server config in a temp dir, and
 * a stack file stacks/Pulumi.e2e-<id>.yaml (git-ignored, removed by cleanup()).
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
import { openStack, UP_OPTIONS, withPreviousRun, type OpenedStack } from "../../cli/workspace";
import { ProcessWatch } from "./processWatch";

export const E2E_PASSPHRASE = "e2e-only-passphrase";

/**
 * The operations of a preview or up that change something: "same" and "read" (the stack
 * reading its own previous outputs, every run) are not changes.
 */
export function changesIn(summary: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary).filter(([op, n]) => op !== "same" && op !== "read" && n) as Array<[string, number]>,
  );
}

export class E2EStack {
  readonly log: string[] = [];
  readonly watch = new ProcessWatch();

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly stackFile: string,
    readonly opened: OpenedStack,
  ) {}

  get stack(): Stack {
    return this.opened.stack;
  }

  /** The engine's environment for the next operations (live: changes apply to the next run). */
  get env(): Record<string, string> {
    return (this.stack.workspace as LocalWorkspace).envVars;
  }

  static async create(config: Record<string, unknown>): Promise<E2EStack> {
    const name = `e2e-${randomBytes(4).toString("hex")}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fetchml-${name}-`));
    fs.mkdirSync(path.join(dir, "state"));
    const stackFile = path.join(PROJECT_ROOT, "stacks", `Pulumi.${name}.yaml`);
    writeStackConfig(stackFile, config);
    const opened = await openStack({
      stackName: name,
      env: { PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: E2E_PASSPHRASE },
    });
    return new E2EStack(name, dir, stackFile, opened);
  }

  /**
   * Encrypts a value with the stack's secrets provider (value on stdin, never argv) and
   * returns what goes in stack config: { secure: "<ciphertext>" }.
   */
  encryptSecret(value: string): { secure: string } {
    const ws = this.stack.workspace as LocalWorkspace;
    execFileSync(this.opened.engine.binary, ["config", "set", "--secret", "fetchml-keys:e2eSecret", "--stack", this.name], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...ws.envVars },
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

  async up() {
    return this.watch.during(() => withPreviousRun(this.opened, () => this.stack.up({ ...UP_OPTIONS, ...this.stream() })));
  }

  async preview() {
    return this.watch.during(() => withPreviousRun(this.opened, () => this.stack.preview(this.stream())));
  }

  /** The runner's `summary` on this stack. */
  async summary(): Promise<string[]> {
    return withPreviousRun(this.opened, () => previewAccess(this.stack));
  }

  async destroy() {
    return this.watch.during(() => this.stack.destroy(this.stream()));
  }

  async outputs(): Promise<Record<string, any>> {
    const outputs = await this.stack.outputs();
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  }

  /** The raw content of every file the file:// backend wrote. */
  backendFiles(): string {
    const root = path.join(this.dir, "state");
    return (fs.readdirSync(root, { recursive: true }) as string[])
      .map((f) => path.join(root, f))
      .filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
  }

  /** `pulumi stack export` as an admin would run it (no --show-secrets). */
  async exportWithoutSecrets(): Promise<string> {
    const ws = this.stack.workspace as LocalWorkspace;
    return execFileSync(this.opened.engine.binary, ["stack", "export", "--stack", this.name], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...ws.envVars },
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
