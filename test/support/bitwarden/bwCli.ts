/**
 * Runs the real `bw` CLI (npm @bitwarden/cli) for tests: its own data dir, Node 22 from the
 * project, the test server's certificate trusted, no proxy variables, no prompts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MODULE_PATHS_PRELOAD, PROJECT_ROOT } from "../../../cli/paths";
import { execute, type ExecResult } from "../../../lib/childProcess";

/** Both bw versions are installed; node_modules/.bin/bw may point at either, so name the script. */
export const BW_2026_9 = path.join(PROJECT_ROOT, "node_modules", "bitwarden-cli-2026.9", "build", "bw.js");
export const BW_DEFAULT = path.join(PROJECT_ROOT, "node_modules", "@bitwarden", "cli", "build", "bw.js");
const NODE = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");

export type BwResult = ExecResult;

export class BwCli {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bw-data-"));
  session = "";

  constructor(
    readonly serverUrl: string,
    readonly caFile: string,
    /** The bw entry script: 2026.9 by default, `BW_DEFAULT` for the version delivery pins. */
    readonly bwScript = BW_2026_9,
  ) {}

  env(extra: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !/^(https?|no|all)_proxy$/i.test(k)) env[k] = v;
    }
    return {
      ...env,
      PATH: `${path.join(PROJECT_ROOT, "node_modules", ".bin")}${path.delimiter}${env.PATH ?? ""}`,
      BITWARDENCLI_APPDATA_DIR: this.dataDir,
      BW_NOINTERACTION: "true",
      NODE_EXTRA_CA_CERTS: this.caFile,
      ...(this.session ? { BW_SESSION: this.session } : {}),
      ...extra,
    };
  }

  run(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<BwResult> {
    // As the product starts it: packages found inside the checkout only (build/modulePaths.ts),
    // so a checkout the tests cloned below /tmp runs nothing planted in a parent's node_modules.
    return execute(NODE, ["--require", MODULE_PATHS_PRELOAD, this.bwScript, ...args], { stdin: options.stdin, env: this.env(options.env) });
  }

  /** Runs and fails loudly on a non-zero exit; returns stdout. */
  async ok(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`bw ${args[0]} ${args[1] ?? ""} exited ${r.code}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  async configure(): Promise<void> {
    await this.ok(["config", "server", this.serverUrl]);
  }

  async loginWithPassword(email: string, password: string): Promise<void> {
    this.session = (
      await this.ok(["login", email, "--passwordenv", "BW_TEST_PASSWORD", "--raw"], { env: { BW_TEST_PASSWORD: password } })
    ).trim();
  }

  async loginWithApiKey(clientId: string, clientSecret: string, password: string): Promise<void> {
    await this.ok(["login", "--apikey"], { env: { BW_CLIENTID: clientId, BW_CLIENTSECRET: clientSecret } });
    this.session = (
      await this.ok(["unlock", "--passwordenv", "BW_TEST_PASSWORD", "--raw"], { env: { BW_TEST_PASSWORD: password } })
    ).trim();
  }

  /** Item JSON goes in base64 on stdin, as `bw encode` would produce it. */
  async createItem(item: unknown): Promise<any> {
    return JSON.parse(await this.ok(["create", "item"], { stdin: Buffer.from(JSON.stringify(item)).toString("base64") }));
  }

  async editItem(id: string, item: unknown): Promise<any> {
    return JSON.parse(await this.ok(["edit", "item", id], { stdin: Buffer.from(JSON.stringify(item)).toString("base64") }));
  }

  cleanup(): void {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
