/** untrustedState: what in a state this program never declares (a state writer's commands). Pure. */
import { describe, expect, it } from "vitest";
import { untrustedState } from "../../../cli/stateTrust";
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
