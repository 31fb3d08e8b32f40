/** The record beside a target (lib/targetRecord.ts): whoever may write it (the server's account) must not forge plan lines through it. */
import { describe, expect, it } from "vitest";
import { checkTargetRecord } from "../../../lib/targetRecord";

const record = (fields: Record<string, unknown>) =>
  JSON.stringify({
    format: 1,
    stack: "organization/fetchml-keys/lab",
    writer: "w",
    generation: 0,
    reloadPending: false,
    managed: [],
    ...fields,
  });

describe("checkTargetRecord", () => {
  it("reads a record this project wrote", () => {
    expect(checkTargetRecord(record({}))).toMatchObject({ record: { stack: "organization/fetchml-keys/lab" } });
  });

  it("refuses a stack, writer or entry name with a line break or a direction mark (the conflict quotes the stack), saying so without its content", () => {
    for (const fields of [{ stack: "x\n\nno access changes\n" }, { writer: "w\r" }, { managed: ["bob\u202e"] }]) {
      expect(checkTargetRecord(record(fields))).toEqual({
        problem: "not a fetchml-keys record (holds a control or text-direction character)",
      });
    }
  });
});
