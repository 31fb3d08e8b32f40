/** An admin's edit made while a step writes is kept: the step notices and merges again. */
import { describe, expect, it } from "vitest";
import { ROLE_PRESETS } from "../../../config/roles";
import { mergeAuthConfig } from "../../../lib/mergeAuthConfig";
import { editUntilStable } from "../../../steps/auth";
import type { TargetFiles, TargetIO } from "../../../targets/io";

const entry = { hash: "b".repeat(64), ...structuredClone(ROLE_PRESETS.researcher) };

/** A target whose file an admin edits between the step's read and its replace, `times` times. */
function racedTarget(times: number) {
  const state = {
    config: "logging:\n  level: info\nauth:\n  api_keys: {}\n",
    record: undefined as string | undefined,
    replaces: 0,
    reloads: 0,
  };
  const io: TargetIO = {
    label: "/srv/api.yaml",
    identity: async () => "/srv/api.yaml",
    read: async (): Promise<TargetFiles> => ({ config: state.config, record: state.record }),
    writeConfig: async (text, expected) => {
      if (state.replaces < times) {
        state.replaces++;
        state.config = state.config.replace(/level: \S+/, `level: debug${state.replaces}`);
      }
      if (expected !== state.config) return "changed-meanwhile";
      state.config = text;
      return "written";
    },
    writeRecord: async (text) => void (state.record = text),
    reload: async () => void state.reloads++,
    close: async () => {},
  };
  return { io, state };
}

const plan = (files: TargetFiles) => ({
  result: mergeAuthConfig(files.config, new Map([["bob", entry]]), [], "/srv/api.yaml"),
  next: { format: 1 as const, stack: "s", writer: "w", generation: 0, reloadPending: false, managed: ["bob"] },
  verb: "REVOKED",
});

describe("a step racing an admin's edit", () => {
  it("merges again from the new content, so the admin's edit and the new entry are both there", async () => {
    const { io, state } = racedTarget(2);
    await editUntilStable(io, "s", plan);
    expect(state.config).toContain("level: debug2");
    expect(state.config).toContain(`hash: "${"b".repeat(64)}"`);
    expect(state.reloads).toBe(1);
    expect(JSON.parse(state.record!).reloadPending).toBe(false);
  });

  it("gives up after a few rounds and says so, leaving the admin's last edit", async () => {
    const { io, state } = racedTarget(10);
    await expect(editUntilStable(io, "s", plan)).rejects.toThrow(/changed by someone else 5 times while being written; run up again/);
    expect(state.config).toContain("level: debug5");
    expect(state.config).not.toContain("bob:");
  });
});
