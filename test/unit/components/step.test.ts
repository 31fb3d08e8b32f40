/** foreignCommands: which command resources in a state are not this program's steps. Pure. */
import { describe, expect, it } from "vitest";
import { foreignCommands, STEP_INTERPRETER, stepCommand } from "../../../components/step";

const step = (over: Record<string, unknown> = {}) => {
  const props = { create: stepCommand("auth-write"), delete: stepCommand("auth-remove"), interpreter: STEP_INTERPRETER, stdin: "x" };
  return {
    urn: "urn:pulumi:s::p::command:local:Command::auth-config-write",
    type: "command:local:Command",
    inputs: { ...props, ...over },
    outputs: { ...props, ...over },
  };
};

describe("foreignCommands", () => {
  it("passes this program's steps, with unset fields stored empty, and leaves other resources alone", () => {
    expect(
      foreignCommands([
        step(),
        step({ delete: undefined, dir: "", environment: {} }),
        { urn: "u", type: "random:index/randomPassword:RandomPassword", inputs: { create: "rm -rf /" } },
      ]),
    ).toEqual([]);
  });

  it("names each command a state writer could have a delete run: create, update, delete, interpreter, dir, environment", () => {
    expect(foreignCommands([step({ delete: "id > /tmp/x; exec ./bin/fetchml-keys-step auth-remove" })])).toEqual([
      "urn:pulumi:s::p::command:local:Command::auth-config-write: its delete is not this program's",
    ]);
    expect(
      foreignCommands([
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
    // In the outputs alone (what a delete replays) as much as in the inputs.
    const outputsOnly = step();
    outputsOnly.outputs = { ...outputsOnly.outputs, delete: "true" };
    expect(foreignCommands([outputsOnly])).toHaveLength(1);
    expect(foreignCommands([step({ delete: stepCommand("auth-remove").replace("auth-remove", "nonsense") })])).toHaveLength(1);
  });
});
