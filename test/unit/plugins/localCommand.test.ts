import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as local from "../../../plugins/command/localCommand";
import { secret, UNKNOWN } from "../../../plugins/shared/properties";

const base = { create: "echo hi", delete: "echo bye", stdin: secret("data"), triggers: ["a"] };

describe("offline local.Command: diff", () => {
  it("reports no change when inputs equal the state (stdout in state is not an input)", () => {
    expect(local.diff({ ...base, stdout: "hi", stderr: "" }, base)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it("replaces on a triggers change and updates on any other change", () => {
    expect(local.diff(base, { ...base, triggers: ["b"] })).toMatchObject({ changes: true, replaces: ["triggers"] });
    expect(local.diff(base, { ...base, stdin: secret("other") })).toMatchObject({ changes: true, replaces: [] });
    expect(local.diff(base, { ...base, create: "echo ho" })).toMatchObject({ changes: true, replaces: [] });
    expect(local.diff(base, { ...base, environment: { A: "1" } })).toMatchObject({ changes: true, replaces: [] });
  });

  it("compares secrets by value", () => {
    expect(local.diff(base, { ...base, stdin: "data" }).changes).toBe(false);
  });

  it("treats unknown values in preview as changes: triggers replace, others update", () => {
    expect(local.diff(base, { ...base, triggers: [UNKNOWN] })).toMatchObject({ changes: true, replaces: ["triggers"] });
    expect(local.diff(base, { ...base, stdin: UNKNOWN })).toMatchObject({ changes: true, replaces: [] });
  });
});

describe("offline local.Command: running", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("create runs with stdin, environment and dir, and returns trimmed stdout and stderr", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmd-"));
    made.push(dir);
    const created = await local.create({
      create: 'cat; echo " $FOO $(pwd)"; echo err >&2',
      stdin: secret("from-stdin"),
      environment: { FOO: "bar" },
      dir,
      logging: "none",
    });
    const outs = created.outs as Record<string, unknown>;
    expect(outs.stdout).toBe(`from-stdin bar ${fs.realpathSync(dir)}`);
    expect(outs.stderr).toBe("err");
    expect(outs.stdin).toEqual(secret("from-stdin"));
  });

  it("update runs update (or create) with the previous output in the environment", async () => {
    const olds = { create: "echo one", stdout: "one", stderr: "" };
    const updated = await local.update(olds, { create: 'echo "was $PULUMI_COMMAND_STDOUT"', logging: "none" });
    expect((updated.outs as Record<string, unknown>).stdout).toBe("was one");
    const viaUpdate = await local.update(olds, { create: "echo create", update: "echo update", logging: "none" });
    expect((viaUpdate.outs as Record<string, unknown>).stdout).toBe("update");
  });

  it("delete runs the stored delete command with the stored stdin", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmd-"));
    made.push(dir);
    await local.remove({ delete: `cat > ${dir}/out`, stdin: secret("stored"), logging: "none" });
    expect(fs.readFileSync(path.join(dir, "out"), "utf8")).toBe("stored");
  });

  it("fails on a non-zero exit with the command and its output", async () => {
    await expect(local.create({ create: "echo visible; exit 3", logging: "none" })).rejects.toThrow(
      'exit status 3: running "echo visible; exit 3":\nvisible',
    );
  });

  it("uses the interpreter given (a pipeline fails under pipefail)", async () => {
    await expect(
      local.create({ create: "false | true", interpreter: ["/bin/bash", "-euo", "pipefail", "-c"], logging: "none" }),
    ).rejects.toThrow(/exit status 1/);
    await expect(local.create({ create: "false | true", logging: "none" })).resolves.toBeTruthy();
  });

  it("does nothing on create without a create command", async () => {
    expect((await local.create({ delete: "echo x" })).outs).toEqual({ delete: "echo x" });
  });
});
