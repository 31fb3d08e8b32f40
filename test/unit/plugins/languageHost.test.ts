/** The offline language host starts programs the way the real pulumi-language-nodejs does. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import {
  parseOptions,
  requiredPackages,
  runArguments,
  runEnvironment,
  runResult,
  splitArgs,
  type RunInput,
} from "../../../plugins/language-nodejs/launch";

const input = (over: Partial<RunInput> = {}): RunInput => ({
  monitorAddress: "127.0.0.1:4001",
  engineAddress: "127.0.0.1:4000",
  organization: "organization",
  project: "fetchml-keys",
  stack: "dev",
  rootDirectory: "/p",
  programDirectory: "/p",
  entryPoint: ".",
  dryRun: false,
  parallel: 16,
  tracing: "",
  args: [],
  config: {},
  configSecretKeys: [],
  options: { typescript: true },
  ...over,
});

describe("the offline Node.js language host", () => {
  it("passes cmd/run the real host's flags, in its order, and the entry point last", () => {
    expect(runArguments(input({ dryRun: true }), "/p/node_modules/@pulumi/pulumi/cmd/run/index.js")).toEqual([
      "/p/node_modules/@pulumi/pulumi/cmd/run/index.js",
      "--monitor",
      "127.0.0.1:4001",
      "--engine",
      "127.0.0.1:4000",
      "--organization",
      "organization",
      "--project",
      "fetchml-keys",
      "--root-directory",
      "/p",
      "--stack",
      "dev",
      "--pwd",
      "/p",
      "--dry-run",
      "--parallel",
      "16",
      ".",
    ]);
  });

  it("leaves out empty flags, puts nodeargs before cmd/run and program args after the entry point", () => {
    const args = runArguments(
      input({ organization: "", tracing: "", args: ["a b"], options: { nodeargs: "--max-old-space-size=4096 --trace-warnings" } }),
      "run",
    );
    expect(args.slice(0, 3)).toEqual(["--max-old-space-size=4096", "--trace-warnings", "run"]);
    expect(args).not.toContain("--organization");
    expect(args.slice(-2)).toEqual([".", "a b"]);
  });

  it("hands config over in the SDK's legacy <namespace>:config:<name> form, with the secret keys and TypeScript on", () => {
    const env = runEnvironment(
      input({ config: { "fetchml-keys:users": "{}", "aws:region": "x" }, configSecretKeys: ["fetchml-keys:servers"] }),
      { PATH: "/bin" },
    );
    expect(JSON.parse(env.PULUMI_CONFIG!)).toEqual({ "fetchml-keys:config:users": "{}", "aws:config:region": "x" });
    expect(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS!)).toEqual(["fetchml-keys:servers"]);
    expect(env.PULUMI_NODEJS_TYPESCRIPT).toBe("true");
    expect(env.PATH).toBe("/bin");
    expect(runEnvironment(input({ options: { typescript: false, tsconfig: "tsconfig.pulumi.json" } }), {})).toMatchObject({
      PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.pulumi.json",
    });
    expect(runEnvironment(input({ options: { typescript: false } }), {}).PULUMI_NODEJS_TYPESCRIPT).toBeUndefined();
  });

  it("reads runtime options as the real host does (typescript defaults to true) and rejects wrong types", () => {
    expect(parseOptions({})).toEqual({ typescript: true });
    expect(() => parseOptions({ typescript: "yes" })).toThrow(/typescript option must be a boolean/);
    expect(() => parseOptions({ nodeargs: 3 })).toThrow(/nodeargs option must be a string/);
  });

  it("splits nodeargs like a shell", () => {
    expect(splitArgs(`--a "b c" 'd e' f\\ g`)).toEqual(["--a", "b c", "d e", "f g"]);
    expect(() => splitArgs(`"open`)).toThrow(/unclosed/);
  });

  it("finds the project's providers in node_modules, as the engine must install them", () => {
    const names = requiredPackages(PROJECT_ROOT).map((p) => `${p.name}@${p.version}`);
    expect(names).toEqual(expect.arrayContaining(["random@v4.21.2", "command@v1.2.1"]));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-"));
    fs.mkdirSync(path.join(dir, "node_modules", "@x", "p"), { recursive: true });
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ pulumi: { resource: true, name: "top-level-is-not-a-dependency" } }));
    fs.writeFileSync(
      path.join(dir, "node_modules", "@x", "p", "package.json"),
      JSON.stringify({ name: "@x/p", version: "2.0.0", pulumi: { resource: true, name: "xp", server: "https://example.org" } }),
    );
    try {
      expect(requiredPackages(dir)).toEqual([{ name: "xp", kind: "resource", version: "v2.0.0", server: "https://example.org" }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a program's exit as the real host does: bail on 32, the code otherwise", () => {
    expect(runResult(0, null)).toEqual({ error: "", bail: false });
    expect(runResult(32, null)).toEqual({ error: "", bail: true });
    expect(runResult(1, null)).toEqual({ error: "Program exited with non-zero exit code: 1", bail: false });
    expect(runResult(null, "SIGKILL").error).toMatch(/signal SIGKILL/);
  });
});
