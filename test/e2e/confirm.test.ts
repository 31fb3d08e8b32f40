/**
 * The question an interactive `up` (and a `user` command) asks is about a preview; the update
 * that follows a "y" runs the program again, on the stack file as it is by then. A stack file
 * changed while the question waited (a `git pull`, an editor) was applied unseen (attack42,
 * 5 of 5): now nothing is applied, and the runner says why.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { runRunner, type RunnerOptions } from "../support/runner";
import { PROJECT_ROOT } from "../../cli/paths";

let e2e: E2EStack;
let serverFile: string;
let marker: string;
let env: Record<string, string>;
let salt: string;
const holders = () => Object.keys(parse(fs.readFileSync(serverFile, "utf8")).auth.api_keys).sort();
const runner = (args: string[], options: Partial<RunnerOptions> = {}) => runRunner([...args, "--stack", e2e.name], { env, ...options });

function stackFile(users: string, extra = ""): string {
  return `config:
  fetchml-keys:authConfigPath: ${serverFile}
  fetchml-keys:preserveEntries: [svc-backup]
${extra}  fetchml-keys:users:
${users}encryptionsalt: ${salt}
`;
}
const BASE = "    alice:\n      role: admin\n    bob:\n      role: researcher\n";
// What a colleague's `git pull`, a checkout of another branch, or an editor puts there meanwhile.
const sneak = () => stackFile(`${BASE}    mallory:\n      role: admin\n`, `  fetchml-keys:reloadCommand: touch ${marker}\n`);

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  marker = path.join(e2e.dir, "reload-ran");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  salt = parse(fs.readFileSync(e2e.stackFile, "utf8")).encryptionsalt;
  fs.writeFileSync(e2e.stackFile, stackFile(BASE));
  env = { ...e2e.env, PULUMI_HOME: path.join(e2e.dir, "pulumi-home") };
  const first = await runner(["up", "--yes"]);
  expect(first.code, first.all).toBe(0);
  expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
});
afterAll(async () => {
  await e2e?.cleanup();
});

describe("what a 'y' applies is what was shown", () => {
  it("up: a stack file changed while the question waits is not applied unseen (no new admin, no reload command never shown)", async () => {
    fs.writeFileSync(e2e.stackFile, stackFile(`${BASE}    carol:\n      role: analyst\n`));
    const r = await runner(["up"], {
      terminalAnswer: async () => {
        fs.writeFileSync(e2e.stackFile, sneak());
        return "y";
      },
    });
    const shown = r.all.slice(0, r.all.indexOf("[y/N]"));
    // What the admin was asked about:
    expect(shown).toMatch(/\+ carol \(analyst\): new key/);
    expect(shown).not.toMatch(/mallory/);
    expect(shown).not.toMatch(/reload command/);
    // Nothing the admin did not see: refused, with why; nothing applied.
    expect(holders(), r.all).not.toContain("mallory");
    expect(fs.existsSync(marker), "the reload command that was never shown ran").toBe(false);
    expect(r.code).toBe(1);
    expect(r.all).toContain(`changed while the question waited, so what was shown is not what up would do now; nothing applied`);
    expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
  });

  it("user add: a plain edit beside the command's own (the lock does not stop it) is not applied unseen", async () => {
    fs.rmSync(marker, { force: true });
    fs.writeFileSync(e2e.stackFile, stackFile(BASE));
    const reset = await runner(["up", "--yes"]);
    expect(reset.code, reset.all).toBe(0);
    expect(holders()).toEqual(["alice", "bob", "svc-backup"]);
    const r = await runner(["user", "add", "dave", "--role", "analyst"], {
      terminalAnswer: async () => {
        // the edit the command made stays; something else is added beside it
        const now = fs.readFileSync(e2e.stackFile, "utf8");
        fs.writeFileSync(
          e2e.stackFile,
          now.replace(
            "  fetchml-keys:users:\n",
            `  fetchml-keys:reloadCommand: touch ${marker}\n  fetchml-keys:users:\n    mallory:\n      role: admin\n`,
          ),
        );
        return "y";
      },
    });
    const shown = r.all.slice(0, r.all.indexOf("[y/N]"));
    expect(shown).toMatch(/\+ dave \(analyst\): new key/);
    expect(shown).not.toMatch(/mallory/);
    expect(holders(), r.all).not.toContain("mallory");
    expect(fs.existsSync(marker), "the reload command that was never shown ran").toBe(false);
    expect(r.code).toBe(1);
    expect(r.all).toContain("changed while the question waited, so what was shown is not what up would do now; nothing applied");
  });

  it("up: Pulumi.yaml (whose config: is stack config too) changed while the question waits is not applied unseen", async () => {
    // recheck43 F7: only the stack file was compared; a reload command added there ran (3 of 3).
    fs.rmSync(marker, { force: true });
    const projectFile = path.join(PROJECT_ROOT, "Pulumi.yaml");
    const projectText = fs.readFileSync(projectFile, "utf8");
    fs.writeFileSync(e2e.stackFile, stackFile(`${BASE}    carol:\n      role: analyst\n`));
    let r;
    try {
      r = await runner(["up"], {
        terminalAnswer: async () => {
          fs.writeFileSync(projectFile, `${projectText}config:\n  fetchml-keys:reloadCommand: touch ${marker}\n`);
          return "y";
        },
      });
    } finally {
      fs.writeFileSync(projectFile, projectText);
    }
    expect(fs.existsSync(marker), "the reload command that was never shown ran").toBe(false);
    expect(r.code).toBe(1);
    expect(r.all).toContain(
      "Pulumi.yaml changed while the question waited, so what was shown is not what up would do now; nothing applied",
    );
  });
});
