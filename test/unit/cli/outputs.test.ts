import { describe, expect, it } from "vitest";
import { OutputError, pickOutput, readUsersOutput, usersTable } from "../../../cli/outputs";

const outputs = {
  mlConfigs: { value: { alice: "a", ben: "b" }, secret: true },
  users: { value: { ben: { role: "researcher" } }, secret: false },
};

describe("pickOutput", () => {
  it("picks one output, or one user's value in it, spelled either way", () => {
    expect(pickOutput(outputs, ["mlConfigs", "ben"])).toEqual({ value: "b", secret: true });
    expect(pickOutput(outputs, ["mlConfigs.ben"])).toEqual({ value: "b", secret: true });
    expect(pickOutput(outputs, ["users"]).value).toEqual({ ben: { role: "researcher" } });
  });

  // attack46 F4: `user handover j.doe` said "mlConfigs has no "j"": a valid user name may hold dots.
  it("picks a user whose name holds dots, spelled either way, and a field below it", () => {
    const dotted = {
      mlConfigs: { value: { j: "not him", "j.doe": "k" }, secret: true },
      users: { value: { "j.doe": { role: "analyst" } }, secret: false },
    };
    expect(pickOutput(dotted, ["mlConfigs", "j.doe"])).toEqual({ value: "k", secret: true });
    expect(pickOutput(dotted, ["mlConfigs.j.doe"])).toEqual({ value: "k", secret: true });
    expect(pickOutput(dotted, ["users", "j.doe", "role"]).value).toBe("analyst");
    expect(pickOutput(dotted, ["users.j.doe.role"]).value).toBe("analyst");
    expect(() => pickOutput(dotted, ["mlConfigs", "k.doe"])).toThrow(new OutputError('mlConfigs has no "k.doe" (it has: j, j.doe)'));
  });

  it("says what exists when a name does not", () => {
    expect(() => pickOutput(outputs, ["nosuch"])).toThrow(new OutputError('no output "nosuch" (outputs: mlConfigs, users)'));
    expect(() => pickOutput(outputs, ["mlConfigs.carol"])).toThrow(new OutputError('mlConfigs has no "carol" (it has: alice, ben)'));
    expect(() => pickOutput(outputs, ["mlConfigs", "constructor"])).toThrow(OutputError);
  });
});

describe("usersTable", () => {
  it("lines up who has which access and key, and how old it is", () => {
    const lines = usersTable(
      {
        ben: {
          role: "researcher",
          delivery: "direct",
          status: "active",
          issuedAt: "2026-01-01T00:00:00Z",
          fingerprint: "0a1b2c3d4e5f",
          maxKeyAgeDays: 90,
        },
        al: { role: "admin", delivery: "bitwarden", status: "suspended", issuedAt: "2026-01-21T00:00:00Z", fingerprint: "ffffffffffff" },
      },
      new Date("2026-01-31T00:00:00Z"),
    );
    expect(lines).toEqual([
      "USER  ROLE        DELIVERY   STATUS     ISSUED                KEY AGE    FINGERPRINT",
      "al    admin       bitwarden  suspended  2026-01-21T00:00:00Z  10d        ffffffffffff",
      "ben   researcher  direct     active     2026-01-01T00:00:00Z  30d of 90  0a1b2c3d4e5f",
    ]);
  });
});

describe("readUsersOutput", () => {
  it("reads the users output with the program's own schema: none is no users, a missing field is shown as missing", () => {
    expect(readUsersOutput(undefined)).toEqual({});
    expect(readUsersOutput({ ben: { role: "researcher", status: "active" } })).toEqual({ ben: { role: "researcher", status: "active" } });
  });

  it("refuses a record of another shape, naming where, instead of printing it as if it were one", () => {
    expect(() => readUsersOutput({ ben: { role: "researcher", maxKeyAgeDays: "90" } })).toThrow(OutputError);
    expect(() => readUsersOutput({ ben: { role: "researcher", maxKeyAgeDays: "90" } })).toThrow(/users\.ben\.maxKeyAgeDays/);
    expect(() => readUsersOutput(["ben"])).toThrow(OutputError);
  });
});
