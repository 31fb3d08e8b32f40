import { describe, expect, it } from "vitest";
import { autoRotations, expiryWarning, now, rotationKeeper } from "../../../lib/keyPolicy";

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
  it("warns inside the window and when due, and says nothing before", () => {
    expect(expiryWarning("frank", prev, 90, 14, at("2026-04-06T00:00:00Z"))).toBe("! frank: key is 95 days old (max 90); rotating it now");
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
