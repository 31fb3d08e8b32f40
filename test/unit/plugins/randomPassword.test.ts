import { describe, expect, it } from "vitest";
import * as password from "../../../plugins/random/randomPassword";
import { isSecretValue, secret, UNKNOWN, unwrap } from "../../../plugins/shared/properties";

const inputs = (extra: Record<string, unknown> = {}) =>
  password.check({ length: 48, special: false, minUpper: 1, minLower: 1, minNumeric: 1, keepers: { rotation: "0" }, ...extra })
    .inputs as Record<string, unknown>;
const state = (extra: Record<string, unknown> = {}) => password.create(inputs(extra)).outs as Record<string, unknown>;

describe("offline RandomPassword: check", () => {
  it("fills the provider's defaults", () => {
    expect(password.check({ length: 8 }).inputs).toEqual({
      length: 8,
      lower: true,
      upper: true,
      numeric: true,
      number: true,
      special: true,
      minLower: 0,
      minUpper: 0,
      minNumeric: 0,
      minSpecial: 0,
    });
  });

  it("rejects a missing length, a length below 1, and mins over the length", () => {
    expect(password.check({}).failures).toEqual([{ property: "length", reason: "Missing required argument: length" }]);
    expect(password.check({ length: 0 }).failures?.[0].property).toBe("length");
    expect(password.check({ length: 2, minUpper: 2, minLower: 1 }).failures?.[0].reason).toMatch(/sum of min/);
    expect(password.check({ length: UNKNOWN }).failures).toEqual([]);
  });
});

describe("offline RandomPassword: diff", () => {
  it("reports no change at all when inputs equal the state (the URN-as-argument trap)", () => {
    expect(password.diff(state(), inputs())).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it("treats a secret-wrapped input equal to its plain state as no change", () => {
    const news = { ...inputs(), keepers: secret({ rotation: "0" }) };
    expect(password.diff(state(), news).changes).toBe(false);
  });

  it("replaces when a keeper changes, and on any other input change", () => {
    expect(password.diff(state(), inputs({ keepers: { rotation: "1" } })).replaces).toEqual(["keepers"]);
    expect(password.diff(state(), inputs({ length: 40 })).replaces).toEqual(["length"]);
    expect(password.diff(state(), inputs({ special: true })).replaces).toEqual(["special"]);
    expect(password.diff(state(), inputs({ minNumeric: 2 })).replaces).toEqual(["minNumeric"]);
  });

  it("replaces when a keeper is unknown during preview", () => {
    expect(password.diff(state(), inputs({ keepers: { rotation: UNKNOWN } }))).toMatchObject({ changes: true, replaces: ["keepers"] });
  });

  it("does not replace when keepers become null, nor between empty and unset overrideSpecial", () => {
    const noKeepers = inputs();
    delete noKeepers.keepers;
    expect(password.diff(state(), noKeepers)).toMatchObject({ changes: true, replaces: [] });
    expect(password.diff(state({ overrideSpecial: "" }), inputs()).replaces).toEqual([]);
  });
});

describe("offline RandomPassword: create", () => {
  it("returns id none, the inputs, and a secret result honouring the classes and minimums", () => {
    const created = password.create(inputs());
    expect(created.id).toBe("none");
    const outs = created.outs as Record<string, unknown>;
    expect(isSecretValue(outs.result)).toBe(true);
    const result = unwrap(outs.result) as string;
    expect(result).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(result).toMatch(/[A-Z]/);
    expect(result).toMatch(/[a-z]/);
    expect(result).toMatch(/[0-9]/);
    expect(outs.keepers).toEqual({ rotation: "0" });
  });

  it("draws characters uniformly (chi-square over many draws)", () => {
    const counts = new Map<string, number>();
    const n = 2000;
    for (let i = 0; i < n; i++) {
      for (const c of password.generate({ length: 31, lower: true, upper: true, numeric: true, special: false })) {
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    }
    expect(counts.size).toBe(62);
    const expected = (n * 31) / 62;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(120); // 61 degrees of freedom: p < 1e-5 above ~120
  });

  it("uses overrideSpecial as the special set", () => {
    const result = password.generate({ length: 20, lower: false, upper: false, numeric: false, special: true, overrideSpecial: "_-" });
    expect(result).toMatch(/^[_-]{20}$/);
  });

  it("imports a password given as the id", () => {
    const read = password.read("s3cret", {});
    expect(unwrap((read.props as Record<string, unknown>).result)).toBe("s3cret");
    expect((read.props as Record<string, unknown>).length).toBe(6);
  });
});
