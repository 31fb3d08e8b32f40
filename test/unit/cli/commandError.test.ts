/** The runner's own refusals are known by one base class, and kept apart from AdminError (cli/commandError.ts says why). */
import { describe, expect, it } from "vitest";
import { CommandError } from "../../../cli/commandError";
import { OutputError } from "../../../cli/outputs";
import { UserCommandError } from "../../../cli/user";
import { AdminError } from "../../../lib/adminError";

describe("CommandError", () => {
  it.each([
    ["UserCommandError", UserCommandError],
    ["OutputError", OutputError],
  ])("%s is a refusal of the runner, said as it is, and not an AdminError", (_, ErrorClass) => {
    const e = new ErrorClass('no output "nosuch"');
    expect(e).toBeInstanceOf(CommandError);
    expect(e).not.toBeInstanceOf(AdminError);
    expect(e.message).toBe('no output "nosuch"');
  });
});
