/**
 * The set-up the killed-replace tests share: alice and bob on a local server file padded to a
 * few megabytes (so the write step runs long enough to be killed inside), and an
 * `up --replace` of that write step killed (the whole engine tree, SIGKILL) at a chosen moment.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { expect } from "vitest";
import { E2EStack } from "./e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "./fixtures";

const PADDING = `# ${"-".repeat(100)}\n`.repeat(40_000);

export class WriteStack {
  private constructor(
    readonly e2e: E2EStack,
    readonly serverFile: string,
    readonly recordFile: string,
  ) {}

  /** A stack with alice and bob written to its server file by one finished up. */
  static async create(): Promise<WriteStack> {
    const e2e = await E2EStack.create({});
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    const s = new WriteStack(e2e, serverFile, path.join(e2e.dir, ".fetchml-server.yaml.fetchml-keys"));
    fs.writeFileSync(serverFile, PADDING + withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    e2e.setConfig(s.config());
    await e2e.up();
    return s;
  }

  /** The stack's settings, pointed at `file` (the server file unless moved). */
  config(file = this.serverFile) {
    return {
      authConfigPath: file,
      createIfMissing: true,
      preserveEntries: ["svc-backup"],
      users: { alice: { role: "admin" }, bob: { role: "researcher" } },
    };
  }

  /** The writer id the server file's record names (undefined while there is none). */
  writerOf(): string | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.recordFile, "utf8")).writer as string;
    } catch {
      return undefined;
    }
  }

  /** Who has an entry on the server file. */
  holders(): string[] {
    return Object.keys(parse(fs.readFileSync(this.serverFile, "utf8")).auth.api_keys).sort();
  }

  /**
   * `up --replace` of the write step, killed once the new writer's record is on disk (before
   * the engine saved the new step), then cancelled. Fails the test unless the kill came first.
   */
  async killReplace(): Promise<void> {
    const oldWriter = this.writerOf();
    const { killed, outcome } = await this.e2e.replaceKilledWhen("::auth-config-write", () => {
      const w = this.writerOf();
      return w !== undefined && w !== oldWriter;
    });
    expect([killed > 0, outcome], "killed once the new writer's record was written").toEqual([true, "failed"]);
    await this.e2e.stack.cancel();
  }
}
