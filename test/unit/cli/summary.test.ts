/**
 * cli/summary.ts refusalIn: which error of a failed preview is the program's refusal, as the
 * runner's `summary` and pre-`up` review print it ("refused: ..."). The messages are as
 * @pulumi/pulumi's `cmd/run` and the engine word them.
 */
import { describe, expect, it } from "vitest";
import { refusalIn } from "../../../cli/summary";

const STACK = "urn:pulumi:dev::fetchml-keys::pulumi:pulumi:Stack::fetchml-keys-dev";
const closing = { message: "preview failed" };

describe("refusalIn", () => {
  it("is the program's RunError: logged bare, with no resource", () => {
    const refusal = "this would revoke 2 of 3 on /srv/fetchml/server.yaml (67%): alice, carol. Nothing was changed.";
    expect(refusalIn([{ message: refusal }, closing])).toBe(refusal);
    expect(refusalIn([{ message: refusal, urn: "" }, closing])).toBe(refusal);
  });

  // Before: any error but the engine's closing line was taken for a refusal, so a bug in the
  // program printed as "refused: Running program ... failed with an unhandled exception".
  it("is none when the program crashed: the preview's failure is thrown, not printed as a refusal", () => {
    const crash = {
      message:
        "Running program '/srv/fetchml-keys/dist/index.js' failed with an unhandled exception:\nTypeError: Cannot read properties of undefined (reading 'name')\n    at planKeys (/srv/fetchml-keys/dist/lib/keyPlan.js:12:30)",
    };
    expect(refusalIn([crash, closing])).toBeUndefined();
  });

  it("is none for a resource's own error or the engine's closing line", () => {
    expect(
      refusalIn([{ message: "exit status 1", urn: `${STACK}$command:local:Command::auth-write` }, { message: "update failed" }]),
    ).toBeUndefined();
    expect(refusalIn([])).toBeUndefined();
  });
});
