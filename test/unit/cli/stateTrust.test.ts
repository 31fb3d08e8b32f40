/** untrustedState: what in a state this program never declares (a state writer's commands), pure; and storedState, how the runner reads a state. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterEach, describe, expect, it } from "vitest";
import { checkReplaceTargets } from "../../../cli/stackCommands";
import { secretsProviderProblem, storedState, untrustedState } from "../../../cli/stateTrust";
import { STEP_INTERPRETER, stepCommand } from "../../../components/step";

/** A secret as `pulumi stack export` writes it. */
const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" };
const step = (over: Record<string, unknown> = {}) => {
  const props = { create: stepCommand("auth-write"), delete: stepCommand("auth-remove"), interpreter: STEP_INTERPRETER, stdin: SECRET };
  return {
    urn: "urn:pulumi:s::p::command:local:Command::auth-config-write",
    type: "command:local:Command",
    inputs: { ...props, ...over },
    outputs: { ...props, ...over },
  };
};

describe("untrustedState", () => {
  it("names a resource of a type this program never declares, and a provider to be fetched from a URL", () => {
    const provider = (over: Record<string, unknown>) => ({
      urn: "urn:pulumi:s::p::pulumi:providers:command::default",
      type: "pulumi:providers:command",
      inputs: { version: "1.0.0", ...over },
      outputs: { version: "1.0.0", ...over },
    });
    expect(
      untrustedState([
        { urn: "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", type: "pulumi:pulumi:Stack" },
        { urn: "urn:pulumi:s::p::fetchml:index:UserKeys::users", type: "fetchml:index:UserKeys", inputs: { anything: 1 } },
        provider({}),
      ]),
    ).toEqual([]);
    expect(
      untrustedState([
        { urn: "urn:pulumi:s::p::command:remote:Command::x", type: "command:remote:Command" },
        provider({ pluginDownloadURL: "https://example.com/evil" }),
      ]),
    ).toEqual([
      "urn:pulumi:s::p::command:remote:Command::x: a resource of type command:remote:Command, which this program never declares",
      "urn:pulumi:s::p::pulumi:providers:command::default: its pluginDownloadURL is not this program's",
    ]);
  });

  it("passes this program's steps, with unset fields stored empty, and leaves other resources alone", () => {
    expect(
      untrustedState([
        step(),
        step({ delete: undefined, dir: "", environment: {} }),
        { urn: "u", type: "random:index/randomPassword:RandomPassword", inputs: { create: "rm -rf /" } },
      ]),
    ).toEqual([]);
  });

  it("names each command a state writer could have a delete run: create, update, delete, interpreter, dir, environment", () => {
    expect(untrustedState([step({ delete: "id > /tmp/x; exec ./bin/fetchml-keys-step auth-remove" })])).toEqual([
      "urn:pulumi:s::p::command:local:Command::auth-config-write: its delete is not this program's",
    ]);
    expect(
      untrustedState([
        step({
          create: stepCommand("auth-write") + " ",
          update: "true",
          interpreter: ["/bin/bash", "-c"],
          dir: "/tmp",
          environment: { BASH_ENV: "/tmp/x" },
        }),
      ]),
    ).toEqual([
      "urn:pulumi:s::p::command:local:Command::auth-config-write: its create, update, dir, environment, interpreter are not this program's",
    ]);
    // recheck45: a request written without the passphrase (plain, or stored as plaintext), whose reload command a step would run as root.
    for (const stdin of [
      '{"target":{"kind":"local","configPath":"/x","reloadCommand":"id"}}',
      { ...SECRET, ciphertext: undefined, plaintext: '"{}"' },
    ])
      expect(untrustedState([step({ stdin })])).toEqual([
        "urn:pulumi:s::p::command:local:Command::auth-config-write: its stdin is not this program's",
      ]);
    // In the outputs alone (what a delete replays) as much as in the inputs.
    const outputsOnly = step();
    outputsOnly.outputs = { ...outputsOnly.outputs, delete: "true" };
    expect(untrustedState([outputsOnly])).toHaveLength(1);
    expect(untrustedState([step({ delete: stepCommand("auth-remove").replace("auth-remove", "nonsense") })])).toHaveLength(1);
  });
});

/**
 * storedState and its readers, against a stand-in `pulumi` that records its arguments and
 * prints a state; the stack double has nothing but what the runner may use (no exportStack,
 * which would ask for --show-secrets).
 */
describe("storedState", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  function fakeStack(state: unknown): { stack: Stack; args: () => string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-stored-state-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
    const pulumi = path.join(dir, "pulumi");
    fs.writeFileSync(pulumi, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/args"\ncat "${dir}/state.json"\n`, { mode: 0o700 });
    const stack = { name: "dev", workspace: { pulumiCommand: { command: pulumi }, workDir: dir, envVars: {} } } as unknown as Stack;
    return { stack, args: () => fs.readFileSync(path.join(dir, "args"), "utf8").trim().split("\n") };
  }
  const KEY_URN = "urn:pulumi:dev::fetchml-keys::fetchml:index:UserKeys$random:index/randomPassword:RandomPassword::alice-key";

  it("the --replace check reads the state as stored (no --show-secrets), pending operations included", async () => {
    const { stack, args } = fakeStack({
      deployment: {
        resources: [{ urn: KEY_URN, type: "random:index/randomPassword:RandomPassword" }],
        pending_operations: [{ type: "creating" }],
      },
    });
    await expect(checkReplaceTargets(stack, "dev", ["urn:pulumi:dev::fetchml-keys::nothing"])).rejects.toThrow(
      `--replace: stack dev has no resource urn:pulumi:dev::fetchml-keys::nothing; a user's key looks like ${KEY_URN}`,
    );
    expect(args()).toEqual(["stack", "export", "--stack", "dev", "--non-interactive"]);
    await expect(checkReplaceTargets(stack, "dev", [KEY_URN])).resolves.toBeUndefined();
    expect(await storedState(stack)).toEqual({
      resources: [{ urn: KEY_URN, type: "random:index/randomPassword:RandomPassword" }],
      pendingOperations: [{ type: "creating" }],
    });
  });

  it("refuses a state not in the form it reads, naming where", async () => {
    const { stack } = fakeStack({ deployment: { resources: [{ urn: 7, type: "x" }] } });
    await expect(storedState(stack)).rejects.toThrow(
      /stack dev: its exported state is not in the form this runner reads:[\s\S]*deployment\.resources\[0\]\.urn/,
    );
  });
});

// recheck46 F6: a state writer without the passphrase named a cloud KMS of its own (an
// awskms:// URL with its own endpoint) in the state; the engine asked it for the data key and
// took the writer's ciphertext for a request of the write step's: its reload ran as root.
describe("secretsProviderProblem", () => {
  const kms = "awskms://alias/fetchml-keys?region=eu-west-1";
  it("takes the passphrase under any salt, and the cloud provider the stack file names", () => {
    expect(secretsProviderProblem(undefined, undefined)).toBeUndefined();
    expect(secretsProviderProblem({ type: "passphrase", state: { salt: "v1:anything" } }, undefined)).toBeUndefined();
    expect(secretsProviderProblem({ type: "cloud", state: { url: kms, encryptedkey: "x" } }, kms)).toBeUndefined();
  });

  it("refuses a cloud provider the stack file does not name, and any other kind", () => {
    const theirs = "awskms://x?endpoint=http://127.0.0.1:1";
    expect(secretsProviderProblem({ type: "cloud", state: { url: theirs } }, undefined)).toBe(
      `its secrets provider, cloud "${theirs}", is not the passphrase (the stack file names no other): ` +
        "the engine would ask it for the key to the state's secrets and take what it answers for this program's requests",
    );
    expect(secretsProviderProblem({ type: "cloud", state: { url: theirs } }, kms)).toContain(
      `is not the one the stack file names ("${kms}")`,
    );
    expect(secretsProviderProblem({ type: "service", state: {} }, kms)).toContain('its secrets provider, "service", is not');
  });

  it("untrustedState names a custom resource of this program's package (the engine would look for its plugin)", () => {
    expect(untrustedState([{ urn: "urn:pulumi:s::p::fetchml:index:Thing::x", type: "fetchml:index:Thing", custom: true }])).toEqual([
      "urn:pulumi:s::p::fetchml:index:Thing::x: a custom resource of type fetchml:index:Thing, which this program declares only as a component",
    ]);
    expect(
      untrustedState([{ urn: "urn:pulumi:s::p::fetchml:index:UserKeys::users", type: "fetchml:index:UserKeys", custom: false }]),
    ).toEqual([]);
  });
});
