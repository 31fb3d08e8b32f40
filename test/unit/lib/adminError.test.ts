/** One way to know that an error is for the admin: its class extends AdminError; no list of classes is kept. */
import { describe, expect, it } from "vitest";
import { AdminError } from "../../../lib/adminError";
import { AuthConfigError } from "../../../lib/serverConfig";
import { UnsafePathError } from "../../../lib/safePath";
import { TargetRecordError } from "../../../lib/targetRecord";
import { DeliveryDirError } from "../../../program/delivery";
import { safeMessage, SafeError } from "../../../steps/io";
import { TargetError } from "../../../targets/io";

describe("AdminError", () => {
  const classes = { SafeError, AuthConfigError, TargetError, TargetRecordError, UnsafePathError, DeliveryDirError };

  it.each(Object.entries(classes))("%s is for the admin: a step prints its message as it is", (_, ErrorClass) => {
    const e = new ErrorClass("/srv/api.yaml: is a directory");
    expect(e).toBeInstanceOf(AdminError);
    expect(safeMessage(e)).toBe("/srv/api.yaml: is a directory");
  });

  it("prints any other error by its kind only (its message may quote input, keys or hashes)", () => {
    expect(safeMessage(new Error("key abc123 is wrong"))).toBe("unexpected Error");
    expect(safeMessage(new TypeError("x"))).toBe("unexpected TypeError");
  });
});
