import { describe, expect, it } from "vitest";
import { autoRotations, expiryWarning, keyPlanSchema, now, planKeys, rotationKeeper } from "../../../lib/keyPlan";

const at = (iso: string) => new Date(iso);

describe("autoRotations", () => {
  it("adds one when the key reached its maximum age, and is stable before that", () => {
    expect(autoRotations({ issuedAt: "2026-01-01T00:00:00Z", autoRotations: 2 }, 90, at("2026-04-01T00:00:00Z"))).toBe(3);
    expect(autoRotations({ issuedAt: "2026-01-01T00:00:00Z", autoRotations: 2 }, 90, at("2026-03-31T00:00:00Z"))).toBe(2);
  });

  it("does nothing without a policy or a previous run", () => {
    expect(autoRotations({ issuedAt: "2020-01-01T00:00:00Z" }, undefined, at("2026-01-01T00:00:00Z"))).toBe(0);
    expect(autoRotations(undefined, 90, at("2026-01-01T00:00:00Z"))).toBe(0);
  });
});

describe("rotationKeeper", () => {
  it("is the user's counter alone until rotate-all or the age policy adds to it", () => {
    expect(rotationKeeper(3, 0, 0)).toBe("3");
    expect(rotationKeeper(3, 1, 0)).toBe("3.1.0");
    expect(rotationKeeper(3, 0, 2)).toBe("3.0.2");
  });
});

describe("expiryWarning", () => {
  const prev = { issuedAt: "2026-01-01T00:00:00Z" };
  it("warns inside the window, and says nothing before it or once the key is due", () => {
    expect(expiryWarning("frank", prev, 90, 14, at("2026-04-06T00:00:00Z"))).toBeUndefined(); // due: rotated, not warned
    expect(expiryWarning("frank", prev, 90, 14, at("2026-03-25T00:00:00Z"))).toBe(
      "! frank: key expires in 7 days (83 of max 90); the first up after that rotates it",
    );
    expect(expiryWarning("frank", prev, 90, 14, at("2026-02-01T00:00:00Z"))).toBeUndefined();
    expect(expiryWarning("frank", prev, undefined, 14, at("2027-01-01T00:00:00Z"))).toBeUndefined();
  });
});

describe("now", () => {
  it("takes an injected clock from FETCHML_KEYS_NOW", () => {
    expect(now({ FETCHML_KEYS_NOW: "2030-01-01T00:00:00Z" }).toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(Math.abs(now({}).getTime() - Date.now())).toBeLessThan(1000);
  });
});

describe("planKeys", () => {
  const T = at("2026-06-01T00:00:00Z");
  const record = (over: Record<string, unknown> = {}) => ({
    fingerprint: "f",
    issuedAt: "2026-05-01T00:00:00Z",
    autoRotations: 0,
    rotation: 0,
    keeper: "0",
    ...over,
  });

  it("says why each key changes: new, counter, rotate-all, age, or not at all", () => {
    const previous = new Map([
      ["same", record()],
      ["bumped", record()],
      ["old", record({ issuedAt: "2026-01-01T00:00:00Z" })],
    ]);
    const users = [
      { name: "same", rotation: 0 },
      { name: "bumped", rotation: 1 },
      { name: "old", rotation: 0, maxKeyAgeDays: 90 },
      { name: "fresh", rotation: 0 },
    ];
    const plans = planKeys(users, 0, previous, T, 14);
    expect(Object.fromEntries([...plans].map(([n, p]) => [n, [p.keeper, p.change]]))).toEqual({
      same: ["0", undefined],
      bumped: ["1", "rotation"],
      old: ["0.0.1", "age"],
      fresh: ["0", "new"],
    });
    expect(plans.get("old")!.age).toEqual({ days: 151, max: 90 });
    // The counter's move is part of the answer: no reader takes it apart from the keeper's text.
    expect(plans.get("bumped")!.rotation).toEqual({ from: 0, to: 1 });
    expect(plans.get("same")!.rotation).toBeUndefined();
    // Every plan is of the one schema its readers are typed by.
    for (const plan of plans.values()) keyPlanSchema.strict().parse(plan);
    const all = planKeys([{ name: "same", rotation: 0 }], 1, previous, T, 14);
    expect(all.get("same")).toMatchObject({ keeper: "0.1.0", change: "rotate-all" });
  });

  it("treats names like constructor and __proto__ as plain users", () => {
    const previous = new Map<string, any>([["constructor", record()]]);
    const plans = planKeys(
      [
        { name: "constructor", rotation: 0 },
        { name: "__proto__", rotation: 0 },
      ],
      0,
      previous,
      T,
      14,
    );
    expect(plans.get("constructor")!.change).toBeUndefined();
    expect(plans.get("__proto__")!.change).toBe("new");
  });
});
