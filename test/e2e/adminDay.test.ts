/**
 * A new admin's day with the runner (issue 27), each command a separate `bin/fetchml-keys`
 * process, in a real pseudo-terminal where it asks: refusals that lead to the right fix and
 * never to the harmful option, no phantom warnings, the engine's errors shown once with the
 * stack file named, one block for a failed reload, and stack-file edits that are never lost.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2EStack } from "../support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../support/fixtures";
import { runRunner, type RunnerOptions, type RunnerResult } from "../support/runner";
import { expectUnchanged } from "../support/secrets";

let e2e: E2EStack;
let serverFile: string;
let env: Record<string, string>;
let good: string;
const stackText = () => fs.readFileSync(e2e.stackFile, "utf8");
const serverText = () => fs.readFileSync(serverFile, "utf8");
const holders = () => Object.keys(parse(serverText()).auth.api_keys).sort();
const runner = (args: string[], options: Partial<RunnerOptions> = {}) => runRunner([...args, "--stack", e2e.name], { env, ...options });
const stackFileName = () => `stacks/Pulumi.${e2e.name}.yaml`;
const count = (text: string, part: string) => text.split(part).length - 1;

/** Runs with the stack file edited by `edit`, then puts the good one back. */
async function withStackFile<T>(edit: (text: string) => string, body: () => Promise<T>): Promise<T> {
  fs.writeFileSync(e2e.stackFile, edit(good));
  try {
    return await body();
  } finally {
    fs.writeFileSync(e2e.stackFile, good);
  }
}

beforeAll(async () => {
  e2e = await E2EStack.create({});
  serverFile = path.join(e2e.dir, "fetchml-server.yaml");
  fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
  const salt = parse(stackText()).encryptionsalt;
  fs.writeFileSync(
    e2e.stackFile,
    `# The lab's keys.
config:
  fetchml-keys:authConfigPath: ${serverFile}
  fetchml-keys:preserveEntries: [svc-backup]
  fetchml-keys:defaults:
    role: researcher
  fetchml-keys:users:
    alice:
      role: admin
    bob:
      role: analyst
encryptionsalt: ${salt}
`,
  );
  env = { ...e2e.env, PULUMI_HOME: path.join(e2e.dir, "pulumi-home") };
  const up = await runner(["up", "--yes"]);
  expect(up.code, up.all).toBe(0);
  good = stackText();
}, 180_000);
afterAll(async () => {
  await e2e?.cleanup();
});

describe("refusals that lead to the right fix", () => {
  it("a typo in authConfigPath on an existing stack is refused naming the path and the stack file, never hinting --allow-mass-revocation", async () => {
    const server = serverText();
    const typo = path.join(e2e.dir, "fetchml-servr.yaml");
    await withStackFile(
      (text) => text.replace(`authConfigPath: ${serverFile}`, `authConfigPath: ${typo}`),
      async () => {
        for (const command of [["up", "--yes"], ["preview"], ["summary"]]) {
          const r = await runner(command);
          expect(r.code, command[0]).toBe(1);
          expect(r.all, command[0]).toContain(`authConfigPath: ${typo} does not exist`);
          expect(r.all, command[0]).toContain(`Check authConfigPath in ${stackFileName()}`);
          expect(r.all, command[0]).toContain(`cp -p ${serverFile} ${typo}`);
          expect(r.all, command[0]).not.toMatch(/allow-mass-revocation|createIfMissing/);
          // summary: a refusal is not "no access changes"
          expect(r.all, command[0]).not.toContain("no access changes");
        }
      },
    );
    expectUnchanged(serverText(), server, "the server config");
    expect(fs.existsSync(typo)).toBe(false);
  });

  it("on a new stack, a file that does not exist is refused naming it, unless the stack says createIfMissing", async () => {
    const missing = path.join(e2e.dir, "new", "api.yaml");
    fs.mkdirSync(path.dirname(missing));
    const other = await E2EStack.create({ authConfigPath: missing, users: { eve: { role: "admin" } } });
    try {
      const r = await runRunner(["preview", "--stack", other.name], { env: { ...other.env, PULUMI_HOME: env.PULUMI_HOME } });
      expect(r.code).toBe(1);
      expect(r.all).toContain(`authConfigPath: ${missing} does not exist. Check authConfigPath in stacks/Pulumi.${other.name}.yaml`);
      expect(r.all).toContain("set fetchml-keys:createIfMissing: true there");
      other.setConfig({ authConfigPath: missing, createIfMissing: true, users: { eve: { role: "admin" } } });
      const ok = await runRunner(["preview", "--stack", other.name], { env: { ...other.env, PULUMI_HOME: env.PULUMI_HOME } });
      expect(ok.code, ok.all).toBe(0);
      expect(ok.all).toContain(`+ ${missing}: does not exist yet: up creates it`);
      expect(fs.existsSync(missing)).toBe(false);
    } finally {
      await other.cleanup();
    }
  });
});

describe("what the engine prints", () => {
  it("a preview and an up with nothing to warn about show no warning count and no Diagnostics section", async () => {
    for (const command of [["preview"], ["up", "--yes"]]) {
      const r = await runner(command);
      expect(r.code, r.all).toBe(0);
      expect(r.all, command[0]).not.toMatch(/\d+ warnings?/);
      expect(r.all, command[0]).not.toMatch(/Diagnostics:/);
    }
  });

  it("a config error inside up is shown once, naming the stack file and the stray key of a namespace typo, without the engine's framing", async () => {
    const server = serverText();
    const r = await withStackFile(
      (text) => text.replace("fetchml-keys:users:", "fetchml-key:users:"),
      () => runner(["up", "--yes"]),
    );
    expect(r.code).toBe(1);
    expect(r.all).toContain(`${stackFileName()}: invalid stack config`);
    expect(count(r.all, "fetchml-key:users: unknown key")).toBe(1);
    expect(r.all).not.toMatch(/\d+ errors?;|\d+ errored|\d+ warnings?/);
    expectUnchanged(serverText(), server, "the server config");
  });

  it("a failed reload prints one block: the target, the command's own output, that the file is in place and the reload owed, and how to retry", async () => {
    const r = await withStackFile(
      (text) =>
        text
          .replace(
            "  fetchml-keys:preserveEntries",
            "  fetchml-keys:reloadCommand: printf 'fetchml-api %s the config\\n' rejected >&2; exit 3\n  fetchml-keys:preserveEntries",
          )
          .replace("    bob:\n", "    carl:\n      role: analyst\n    bob:\n"),
      () => runner(["up", "--yes"]),
    );
    expect(r.code).toBe(1);
    expect(holders()).toContain("carl"); // the file was written
    // The command's own output, once (its text, which the plan quotes, does not hold these words).
    expect(count(r.all, "rejected the config")).toBe(1);
    expect(r.all).toMatch(new RegExp(`${serverFile.replace(/[.]/g, "\\.")}.*reload`));
    expect(r.all).toMatch(/in place/);
    expect(r.all).toMatch(/reload is owed|owes a reload|reload still owed/);
    expect(r.all).toContain(`npm run -s keys -- up --stack ${e2e.name}`);
    expect(r.all).not.toMatch(/exit status \d+: running/);
    // Back to the good stack file: carl leaves, and the owed reload (now none configured) is settled.
    const up = await runner(["up", "--yes", "--allow-mass-revocation"]);
    expect(up.code, up.all).toBe(0);
  });
});

describe("the user commands", () => {
  it("a mistyped action is named, in a terminal or not, and nothing runs", async () => {
    for (const options of [{}, { terminalAnswer: "n" }]) {
      const r = await runner(["user", "lst"], options);
      expect(r.code).toBe(2);
      expect(r.all).toMatch(/unknown action "lst"/);
      expect(r.all).not.toMatch(/which user|not a terminal|Previewing/);
    }
  });

  it("user add takes defaults.role, shows the diff it made, and writes the file atomically with its own mode", async () => {
    fs.chmodSync(e2e.stackFile, 0o640);
    const inode = fs.statSync(e2e.stackFile).ino;
    const before = stackText();
    const r = await runner(["user", "add", "dave", "--yes"]);
    expect(r.code, r.all).toBe(0);
    expect(stackText()).toBe(before.replace("      role: analyst\n", "      role: analyst\n    dave: {}\n"));
    expect(r.stderr).toContain(`fetchml-keys: ${stackFileName()}: added dave (researcher, from defaults.role)`);
    expect(r.stderr).toMatch(
      new RegExp(`--- ${stackFileName()}\\n\\+\\+\\+ ${stackFileName()}\\n@@ [^\\n]+ @@\\n( [^\\n]*\\n)*\\+    dave: \\{\\}\\n`),
    );
    expect(r.stdout).toMatch(/^\+ dave \(researcher\): new key$/m);
    const st = fs.statSync(e2e.stackFile);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.ino).not.toBe(inode); // replaced by rename, never truncated in place
    expect(holders()).toContain("dave");
    good = stackText();
  });

  it("a suspend logs what it did without calling it a revocation", async () => {
    const r = await runner(["user", "suspend", "dave", "--yes"]);
    expect(r.code, r.all).toBe(0);
    expect(r.all).not.toMatch(/REVOKED dave/);
    expect(r.all).toMatch(/removed dave/);
    good = stackText();
  });

  it("while one command waits at its question, another is refused by the lock; a 'no' puts back only a file nobody changed since", async () => {
    let second: RunnerResult | undefined;
    const handEdit = "# edited by hand meanwhile\n";
    const first = await runner(["user", "resume", "dave"], {
      terminalAnswer: async () => {
        second = await runner(["user", "add", "gina", "--no-up"]);
        fs.appendFileSync(e2e.stackFile, handEdit);
        return "n";
      },
    });
    expect(second?.code).toBe(1);
    expect(second?.stderr).toMatch(new RegExp(`${stackFileName().replace(/\./g, "\\.")}: another fetchml-keys command is editing it`));
    expect(first.code).toBe(1);
    expect(first.all).toMatch(/was changed by someone else after this command edited it; it is left as it is now/);
    expect(stackText().endsWith(handEdit)).toBe(true);
    fs.writeFileSync(e2e.stackFile, good);

    // Nobody else changed it: a "no" restores it exactly.
    const no = await runner(["user", "resume", "dave"], { terminalAnswer: "n" });
    expect(no.code).toBe(1);
    expect(no.all).toMatch(/not confirmed; the stack file is as it was/);
    expect(stackText()).toBe(good);
  });

  it("a command killed (SIGKILL) while it holds the stack file's lock does not block the next one", async () => {
    // Every run is a fresh PID namespace where the runner gets the same pid: a lock judged by
    // its pid looked held by the very command asking, and every later user command was refused.
    let pid = 0;
    const killed = await runner(["user", "resume", "dave"], {
      onStart: (p) => (pid = p),
      terminalAnswer: () => {
        process.kill(-pid, "SIGKILL");
        return new Promise<string>(() => {});
      },
    });
    expect(killed.code).toBe(null);
    const next = await runner(["user", "add", "gina", "--no-up"]);
    expect(next.code, next.all).toBe(0);
    expect(stackText()).toMatch(/gina/);
    fs.writeFileSync(e2e.stackFile, good);
  });

  it("init without a passphrase says which one to set, and creates nothing", async () => {
    const name = `${e2e.name}-lab`;
    const bare = { ...env };
    delete bare.PULUMI_CONFIG_PASSPHRASE;
    delete bare.PULUMI_CONFIG_PASSPHRASE_FILE;
    // The runner's environment is this process's plus `env`: take the passphrase out of both.
    const saved = {
      PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE,
      PULUMI_CONFIG_PASSPHRASE_FILE: process.env.PULUMI_CONFIG_PASSPHRASE_FILE,
    };
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    let r: RunnerResult;
    try {
      r = await runRunner(["init", name], { env: bare });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`init ${name}: no passphrase .*PULUMI_CONFIG_PASSPHRASE_FILE`));
    expect(r.all).not.toContain("stack ?");
    expect(fs.existsSync(path.join(path.dirname(e2e.stackFile), `Pulumi.${name}.yaml`))).toBe(false);
  });

  it("user handover into a directory that does not exist says so, naming the file asked for", async () => {
    const r = await runner(["user", "handover", "alice", "--out", "/no/such/dir/x.toml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/no\/such\/dir\/x\.toml: the directory \/no\/such\/dir does not exist/);
    expect(r.all).not.toMatch(/ENOENT|\.tmp/);
  });
});
