/** Drift in the delivery directory (lib/deliveryPlan.ts): which lines the plan prints and when the generation moves. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { changedByHand, deliveryGeneration, deliveryLines, type DeliveryReading } from "../../../lib/deliveryPlan";

// The oracle for a file's digest: node:crypto here, not the module's own helper.
const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const wanted = new Map([
  ["alice.toml", sha("A\n")],
  ["bob.toml", sha("B\n")],
]);
const reading = (over: Partial<DeliveryReading> = {}): DeliveryReading => ({
  dir: "/d",
  manifest: ["alice.toml", "bob.toml"],
  digests: new Map(wanted),
  ...over,
});
const previous = { dir: "/d", generation: 4, files: ["alice.toml", "bob.toml"] };

describe("delivery drift", () => {
  it("is quiet while every file and the manifest are as this stack wrote them", () => {
    expect(deliveryLines(reading(), previous, ["alice", "bob"])).toEqual([]);
    // A user added or removed in stack config is a plan, not drift: the manifest lists last run's files.
    expect(deliveryLines(reading(), previous, ["alice"])).toEqual([]);
    expect(deliveryGeneration(reading(), previous, wanted)).toBe(4);
  });

  it("names a missing file and a missing manifest, and moves the generation by one", () => {
    const gone = reading({ manifest: undefined, digests: new Map([["alice.toml", sha("A\n")]]) });
    expect(deliveryLines(gone, previous, ["alice", "bob"])).toEqual([
      "+ bob: delivery file /d/bob.toml is missing (or not this user's file): up writes it again",
      "! /d: its list of delivered files is missing or changed: up writes it again",
    ]);
    expect(deliveryGeneration(gone, previous, wanted)).toBe(5);
  });

  it("names a file changed by hand (by digest), and moves the generation", () => {
    const edited = reading({ digests: new Map([...wanted, ["bob.toml", sha("edited\n")]]) });
    expect(changedByHand(edited, previous, ["alice", "bob"], (n) => wanted.get(`${n}.toml`)!)).toEqual(["bob"]);
    expect(deliveryGeneration(edited, previous, wanted)).toBe(5);
  });

  it("says nothing for a directory new to this stack (the step writes everything), and never passes the largest safe integer", () => {
    const moved = reading({ dir: "/e", digests: new Map() });
    expect(deliveryLines(moved, previous, ["alice"])).toEqual([]);
    expect(deliveryLines(reading({ manifest: ["alice.toml"] }), previous, ["alice", "bob"])).toEqual([
      "! /d: its list of delivered files is missing or changed: up writes it again",
    ]);
    expect(deliveryGeneration(moved, previous, wanted)).toBe(4);
    expect(deliveryGeneration(reading({ manifest: [] }), { dir: "/d", generation: Number.MAX_SAFE_INTEGER, files: [] }, wanted)).toBe(1);
  });
});
