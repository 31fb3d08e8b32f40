/**
 * Nothing compiles TypeScript at run time: every entry point runs node on the JavaScript built
 * into dist/ (no tsx, no ts-node, and so no compile cache in a shared /tmp that another account
 * could fill with code root would run), and a step is one process. Checked from the scripts
 * themselves and from what the kernel saw them exec (strace -f).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../../cli/paths";
import { parseOptions, runArguments, runEnvironment, type RunInput } from "../../../plugins/language-nodejs/launch";
import { type ExecTrace, readExecTrace, straceArgs } from "../../support/execTrace";

const NODE = fs.realpathSync(path.join(PROJECT_ROOT, "node_modules", ".bin", "node"));
const PLUGIN_LAUNCHERS = [
  "random/bin/pulumi-resource-random",
  "command/bin/pulumi-resource-command",
  "language-nodejs/bin/pulumi-language-nodejs",
];
const COMPILERS = /\btsx\b|ts-node|\.[cm]?ts$/;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "entry-points-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs `args` under strace from the project root, TMPDIR a fresh empty directory, with `input`
 * on stdin through a real pipe (as the engine gives its plugins: they exit when it closes).
 */
async function traced(args: string[], input = ""): Promise<{ trace: ExecTrace; stderr: string; tmpFiles: string[] }> {
  const run = fs.mkdtempSync(path.join(tmp, "run-"));
  const trace = path.join(run, "trace");
  const own = path.join(run, "tmp");
  fs.mkdirSync(own);
  const child = spawn("sh", ["-c", 'printf %s "$INPUT" | exec "$@"', "sh", "strace", ...straceArgs(trace), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TMPDIR: own, INPUT: input },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  await new Promise((resolve) => child.on("exit", resolve));
  return { trace: readExecTrace(trace), stderr, tmpFiles: fs.readdirSync(own, { recursive: true }).map(String) };
}

/** No exec names a compiler or a .ts file; each node exec runs built JavaScript from dist/ with the project's Node 22. */
function expectOnlyBuiltJs(trace: ExecTrace) {
  expect(trace.execs.length).toBeGreaterThan(0);
  for (const exec of trace.execs) {
    for (const arg of [exec.file, ...exec.argv]) expect(arg, exec.argv.join(" ")).not.toMatch(COMPILERS);
  }
  const nodes = trace.execs.filter((e) => path.basename(e.file) === "node");
  expect(nodes.length).toBeGreaterThan(0);
  for (const exec of nodes) {
    expect(fs.realpathSync(path.resolve(PROJECT_ROOT, exec.file))).toBe(NODE);
    if (exec.argv[1] === "-p") continue; // the runner's Node version probe: inline code, no file
    const script = exec.argv.slice(1).find((a, i, all) => !a.startsWith("-") && all[i - 1] !== "--require");
    expect(path.relative(PROJECT_ROOT, path.resolve(PROJECT_ROOT, script!))).toMatch(/^dist\/.*\.js$/);
  }
}

describe("the entry points run built JavaScript", () => {
  it("no launcher names tsx, ts-node or a .ts file; each execs node on dist/ with the build guard first", () => {
    const launchers = ["bin/fetchml-keys-step", ...PLUGIN_LAUNCHERS.map((p) => `plugins/${p}`)];
    for (const file of [...launchers, "bin/fetchml-keys", "bin/fetchml-keys-isolated", "scripts/fetchml-keys.sh"]) {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");
      const code = text.replace(/^\s*#.*$/gm, "");
      expect(code, file).not.toMatch(/\btsx\b|ts-node|TSX_/);
      expect(code, file).not.toMatch(/\.ts\b/);
    }
    for (const file of launchers) {
      const code = fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8").replace(/^\s*#.*$/gm, "");
      expect(code, file).toMatch(/^exec "\$node" --require "\$root\/dist\/build\/guard\.js" "\$root\/dist\/[\w/-]+\.js" "\$@"$/m);
      // No subshell ($(...) forks a process) and nothing after the exec.
      expect(code, file).not.toMatch(/\$\(|`/);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
    expect(pkg.main).toBe("dist/index.js");
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.scripts.prepare).toMatch(/scripts\/build\.sh/);
  });

  it("each launcher execs the project's Node, or under `npm ci --ignore-scripts` (CI: none set up) the node on PATH", async () => {
    const launchers = ["bin/fetchml-keys-step", ...PLUGIN_LAUNCHERS.map((p) => `plugins/${p}`)];
    // A copy of the launchers in a tree whose Node is a script that says which one ran, and how.
    const root = path.join(tmp, "checkout");
    for (const file of launchers) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.copyFileSync(path.join(PROJECT_ROOT, file), path.join(root, file));
    }
    const fakeNode = (dir: string, says: string) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "node"), `#!/bin/sh\necho ${says} "$@"\n`, { mode: 0o755 });
    };
    fakeNode(path.join(tmp, "path-bin"), "path-node");
    const env = { ...process.env, PATH: `${path.join(tmp, "path-bin")}:/usr/bin:/bin` };
    const run = (file: string) =>
      new Promise<string>((resolve) => {
        const child = spawn("sh", ["-c", `exec ./${file} arg`], { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d));
        child.on("exit", () => resolve(out.trim()));
      });
    const script = (file: string) => (file === "bin/fetchml-keys-step" ? "steps" : `plugins/${file.split("/")[1]}`) + "/main.js";
    for (const file of launchers) {
      const up = file
        .split("/")
        .slice(1)
        .map(() => "..")
        .join("/");
      const args = (root: string) => `--require ${root}/dist/build/guard.js ${root}/dist/${script(file)} arg`;
      expect(await run(file), file).toBe(`path-node ${args(`././${path.dirname(file)}/${up}`)}`);
    }
    fakeNode(path.join(root, "node_modules", ".bin"), "project-node");
    for (const file of launchers) expect(await run(file), file).toMatch(/^project-node --require /);
  });

  it("plain pulumi's language host starts cmd/run on the built program with no TypeScript", () => {
    const project = parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"));
    expect(project.main).toBeUndefined(); // a `main` file would make dist/ the working directory
    const options = project.runtime.options as Record<string, unknown>;
    expect(parseOptions(options).typescript).toBe(false);
    const input = {
      programDirectory: PROJECT_ROOT,
      entryPoint: ".",
      args: [],
      config: {},
      configSecretKeys: [],
      options,
    } as unknown as RunInput;
    expect(runEnvironment(input, {}).PULUMI_NODEJS_TYPESCRIPT).toBeUndefined();
    expect(runArguments(input, "run.js").slice(0, 3)).toEqual(["--require", "./dist/build/guard.js", "run.js"]);
  });
});

describe("the admin's launchers", () => {
  /** Runs `file` with `args`, from a directory outside the checkout. */
  function run(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(file, args, { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
  }

  it("find the checkout when linked into a directory on PATH (as /usr/local/bin/fetchml-keys would be)", async () => {
    const bin = fs.mkdirSync(path.join(tmp, "bin"), { recursive: true })!;
    fs.symlinkSync(path.join(PROJECT_ROOT, "bin", "fetchml-keys"), path.join(bin, "fetchml-keys"));
    fs.symlinkSync(path.join(PROJECT_ROOT, "bin", "fetchml-keys-isolated"), path.join(bin, "fetchml-keys-isolated"));
    const runner = await run(path.join(bin, "fetchml-keys"), ["--help"]);
    expect(runner.stderr).toBe("");
    expect(runner.stdout).toMatch(/^usage: fetchml-keys <command>/);
    expect(runner.code).toBe(0);
    const isolated = await run(path.join(bin, "fetchml-keys-isolated"), ["sh", "-c", "echo isolated"]);
    expect(isolated.stderr).toBe("");
    expect(isolated.stdout).toBe("isolated\n");
    expect(isolated.code).toBe(0);
  });
});

describe("what the entry points exec (strace -f; scripts/system-deps.sh installs it)", () => {
  it("a step is one process: sh -c execs bin/fetchml-keys-step, which execs node on dist/steps/main.js", async () => {
    const { trace, stderr, tmpFiles } = await traced(["/bin/sh", "-c", "exec ./bin/fetchml-keys-step nosuch"], "{}");
    expect(stderr).toContain('unknown step "nosuch"'); // it ran the step entry point, built
    expect(trace.pids).toHaveLength(1);
    expect(trace.execs.map((e) => path.basename(e.file))).toEqual(["sh", "fetchml-keys-step", "node"]);
    expectOnlyBuiltJs(trace);
    expect(tmpFiles).toEqual([]);
  }, 60_000);

  it("each offline plugin is one process running dist/ (started as the engine starts it, by its full path)", async () => {
    for (const launcher of PLUGIN_LAUNCHERS) {
      // The engine gives plugins a pipe on stdin and the plugin exits when it closes.
      const { trace, tmpFiles } = await traced([path.join(PROJECT_ROOT, "plugins", launcher)]);
      expect(trace.pids, launcher).toHaveLength(1);
      expect(trace.execs.map((e) => path.basename(e.file))).toEqual([path.basename(launcher), "node"]);
      expectOnlyBuiltJs(trace);
      expect(tmpFiles).toEqual([]);
    }
  }, 120_000);

  it("the runner runs dist/cli/main.js and compiles nothing (and leaves nothing in TMPDIR)", async () => {
    const { trace, stderr, tmpFiles } = await traced(["sh", "scripts/fetchml-keys.sh", "help"]);
    expect(stderr).not.toContain("built dist/"); // the build is current: nothing to build
    expectOnlyBuiltJs(trace);
    expect(trace.execs.some((e) => e.argv.some((a) => /dist\/cli\/main\.js$/.test(a)))).toBe(true);
    expect(trace.execs.some((e) => /tsc$/.test(e.file) || e.argv.some((a) => /typescript|tsc$/.test(a)))).toBe(false);
    // Only the empty per-user mount point of the runs' tmpfs (scripts/isolated.sh).
    expect(tmpFiles).toEqual([`fetchml-keys-run-${process.getuid!()}`]);
  }, 60_000);
});
