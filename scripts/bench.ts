/**
 * Benchmarks: prints measured figures and writes them as JSON; asserts nothing (performance
 * goals live here, not in timed tests). `npm run bench [-- options]`:
 *
 *   --sizes 10,100,500,1000    users per stack
 *   --modes direct,bitwarden   delivery (bitwarden: the project's test server, the real bw)
 *   --no-floor --no-manual     skip a baseline
 *   --no-isolation             skip the isolation leg; --isolation-only: run only it
 *   --repeat N                 the later four operations N times each (default 1); the summary
 *                              gives the median of the N paired ratios, and their range
 *   --json FILE                where the figures go (default bench-results.json)
 *
 * For each size and mode, the program through the runner's own stack code (file:// backend,
 * a server config with one foreign entry): first up, no-change preview, no-change up, rotate
 * one, revoke one; each with wall time, resources registered, bw processes started, and peak
 * memory of the engine (its VmHWM) and of this process (the program runs inline here: its RSS,
 * sampled during the operation after a full GC before it, so one operation's peak is not
 * carried into the next). Two baselines in the same run: the engine floor (a bare inline program of N
 * RandomPasswords, same engine and plugins; it and the program take turns at each operation, so
 * a ratio compares runs seconds apart) and, for Bitwarden, the admin's manual way (per
 * user: a key, its hash, one `bw create item` process; timed on a sample, scaled to N).
 * The isolation leg: what scripts/isolated.sh (namespaces and pasta, around every runner
 * command) adds to a command's wall time, as the median over runs of a bare `node -e 0`.
 *
 * Processes (`procs`, `execs`; --no-processes to skip): every process started outside the
 * engine during an operation, counted exactly. The engine runs under `strace -f` (execve and
 * the process-creating clones only; a wrapper put first on PATH, which ensure-engine.sh then
 * picks), so each plugin, step and whatever they start is seen however short it lives
 * (test/support/execTrace.ts). Counted: every process of the engine's tree but the engine
 * itself (plugins, steps, bw, reload commands, shells); `execs` counts their successful
 * execs (a `sh -c "exec ./bin/fetchml-keys-step x"` is one process and three execs). Not
 * counted: the engine's own processes (`pulumi` itself, also the Automation API's `pulumi
 * version`/`stack` calls) and this process, where the runner's program runs inline.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import * as random from "@pulumi/random";
import { LocalWorkspace, type PreviewResult, PulumiCommand, Stack, type UpResult } from "@pulumi/pulumi/automation";
import { ensureEngine } from "../cli/engine";
import { PROJECT_ROOT } from "../cli/paths";
import { choosePlugins } from "../cli/plugins";
import { refuseUntrustedState } from "../cli/stateTrust";
import { engineEnvironment, UP_OPTIONS } from "../cli/workspace";
import { hashApiKey } from "../lib/keys";
import { BW_DEFAULT, BwCli } from "../test/support/bitwarden/bwCli";
import { BitwardenTestServer } from "../test/support/bitwarden/server";
import { E2EStack } from "../test/support/e2eStack";
import { SERVER_CONFIG, withoutManagedEntries } from "../test/support/fixtures";
import { type ExecTrace, readExecTrace, straceArgs } from "../test/support/execTrace";
import { descendants } from "../test/support/processWatch";

const { values: opts } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,100,500,1000" },
    modes: { type: "string", default: "direct,bitwarden" },
    "no-floor": { type: "boolean", default: false },
    "no-manual": { type: "boolean", default: false },
    "no-isolation": { type: "boolean", default: false },
    "isolation-only": { type: "boolean", default: false },
    "no-processes": { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    json: { type: "string", default: "bench-results.json" },
  },
});
const SIZES = opts.sizes.split(",").map(Number);
const MODES = opts.modes.split(",") as Array<"direct" | "bitwarden">;
const REPEAT = Number(opts.repeat);
if (!Number.isInteger(REPEAT) || REPEAT < 1) throw new Error(`--repeat: ${opts.repeat} is not a whole number of at least 1`);
const OPS = ["first up", "no-change preview", "no-change up", "rotate one", "revoke one"] as const;
type Op = (typeof OPS)[number];

interface Measure {
  seconds: number;
  resources: number;
  bwProcesses: number;
  enginePeakMiB: number;
  programPeakMiB: number;
  /** Processes started outside the engine, and their execs (EngineTrace); absent with --no-processes. */
  processes?: number;
  execs?: number;
}
interface Row {
  what: "program" | "floor" | "manual";
  mode: "direct" | "bitwarden" | "-";
  users: number;
  op: Op;
  measure: Measure;
  /** Which repetition of the operation (0 for the first up and without --repeat). */
  sample: number;
  note?: string;
}
const rows: Row[] = [];
/** The runner's state check, timed after each no-change up (program legs only). */
const stateChecks: Array<Pick<Row, "what" | "mode" | "users"> & { seconds: number }> = [];

// A full collection before each operation, so this process's RSS during it is its own.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc") as () => void;

/** Samples the processes this run starts (bw processes by pid, the engine's peak RSS) and this one's RSS. */
class Sampler {
  private bw = new Set<number>();
  private engineKiB = 0;
  private programKiB = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly engineBinary: string) {}

  async during<T>(work: () => Promise<T>): Promise<{ result: T; measure: Omit<Measure, "resources"> }> {
    this.bw.clear();
    this.engineKiB = 0;
    engineTrace?.reset();
    collectGarbage();
    this.programKiB = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
    const start = performance.now();
    try {
      const result = await work();
      const seconds = (performance.now() - start) / 1000;
      return {
        result,
        measure: {
          seconds,
          bwProcesses: this.bw.size,
          enginePeakMiB: this.engineKiB / 1024,
          programPeakMiB: this.programKiB / 1024,
          ...engineTrace?.outsideEngine(),
        },
      };
    } finally {
      clearInterval(this.timer);
    }
  }

  private sample(): void {
    this.programKiB = Math.max(this.programKiB, process.memoryUsage.rss() / 1024);
    for (const pid of descendants()) {
      let cmdline: string;
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmdline.includes("bw.js")) this.bw.add(pid);
      if (cmdline.startsWith(this.engineBinary) || (engineTrace && cmdline.startsWith(engineTrace.realEngine))) {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(safeRead(`/proc/${pid}/status`));
        if (hwm) this.engineKiB = Math.max(this.engineKiB, Number(hwm[1]));
      }
    }
  }
}

/** The engine run under strace (see the header): a `pulumi` first on PATH that execs it so. */
class EngineTrace {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-bench-trace-"));
  constructor(readonly realEngine: string) {
    const bin = path.join(this.dir, "engine", "bin");
    fs.mkdirSync(bin, { recursive: true });
    const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const args = straceArgs("TRACE").map((a) => (a === "TRACE" ? `"${this.dir}/traces/trace.$$"` : quote(a)));
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nexec strace ${args.join(" ")} ${quote(realEngine)} "$@"\n`, { mode: 0o755 });
    fs.mkdirSync(path.join(this.dir, "traces"));
    process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
    process.on("exit", () => fs.rmSync(this.dir, { recursive: true, force: true }));
  }

  reset(): void {
    for (const f of fs.readdirSync(path.join(this.dir, "traces"))) fs.rmSync(path.join(this.dir, "traces", f));
  }

  /** Every traced process but the engine's own (the last thing a pid exec'd), and their execs. */
  outsideEngine(): { processes: number; execs: number } {
    const traces: ExecTrace[] = fs.readdirSync(path.join(this.dir, "traces")).map((f) => readExecTrace(path.join(this.dir, "traces", f)));
    let processes = 0;
    let execs = 0;
    for (const trace of traces) {
      for (const pid of trace.pids) {
        const own = trace.execs.filter((e) => e.pid === pid);
        if (own.length > 0 && own[own.length - 1].file === this.realEngine) continue;
        processes++;
        execs += own.length;
      }
    }
    return { processes, execs };
  }
}

function strace(): boolean {
  return spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
}

/** Set up before any engine is found: the real engine, then the traced one first on PATH. */
let engineTrace: EngineTrace | undefined;

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function resourcesOf(counts: Record<string, number | undefined> | undefined): number {
  return Object.values(counts ?? {}).reduce<number>((a, n) => a + (n ?? 0), 0);
}

function record(row: Row): void {
  rows.push(row);
  const m = row.measure;
  console.log(
    [
      row.what.padEnd(8),
      row.mode.padEnd(10),
      String(row.users).padStart(5),
      (REPEAT > 1 && row.op !== "first up" ? `${row.op} #${row.sample + 1}` : row.op).padEnd(18),
      `${m.seconds.toFixed(2).padStart(8)} s`,
      `${String(m.resources).padStart(5)} res`,
      `${String(m.bwProcesses).padStart(4)} bw`,
      `engine ${m.enginePeakMiB.toFixed(0).padStart(5)} MiB`,
      `program ${m.programPeakMiB.toFixed(0).padStart(5)} MiB`,
      m.processes === undefined ? "" : `${String(m.processes).padStart(4)} procs ${String(m.execs).padStart(4)} execs`,
      row.note ?? "",
    ].join("  "),
  );
}

/** One measured stack (the program, or the engine floor): its row, its sampler, its five operations. */
interface Leg {
  row: Pick<Row, "what" | "mode" | "users">;
  sampler: Sampler;
  up: () => Promise<UpResult>;
  preview: () => Promise<PreviewResult>;
  /** The stack's own change for the k-th "rotate one" and "revoke one" (k from 1), each applied by an up. */
  rotateOne: (k: number) => void;
  revokeOne: (k: number) => void;
  /** The runner's state check before an up or destroy (cli/stateTrust.ts), which the engine's own operations do not include. */
  stateCheck?: () => Promise<void>;
  close: () => Promise<void>;
}

/**
 * The five operations, in order, each timed and sampled: first up, no-change preview and up,
 * rotate one, revoke one. The legs take turns at each operation (floor, then each program), so
 * a ratio compares runs seconds apart: on a shared machine, the load of the minutes between a
 * whole floor and a whole program leg moved the ratios more than the program did.
 */
async function measureOperations(legs: Leg[]): Promise<void> {
  const up = async (leg: Leg, op: Op, sample: number) => {
    const { result, measure } = await leg.sampler.during(leg.up);
    record({ ...leg.row, op, sample, measure: { ...measure, resources: resourcesOf(result.summary.resourceChanges) } });
  };
  for (const leg of legs) await up(leg, "first up", 0);
  // Repetitions go round all four operations, so each sample of one follows the same others.
  for (let sample = 0; sample < REPEAT; sample++) {
    for (const leg of legs) {
      const { result: preview, measure } = await leg.sampler.during(leg.preview);
      record({ ...leg.row, op: "no-change preview", sample, measure: { ...measure, resources: resourcesOf(preview.changeSummary) } });
    }
    for (const leg of legs) await up(leg, "no-change up", sample);
    for (const leg of legs) {
      if (!leg.stateCheck) continue;
      const start = performance.now();
      await leg.stateCheck();
      const seconds = (performance.now() - start) / 1000;
      stateChecks.push({ ...leg.row, seconds });
      console.log(
        `${leg.row.what.padEnd(8)}  ${leg.row.mode.padEnd(10)}  ${String(leg.row.users).padStart(5)}  runner's state check  ${seconds.toFixed(2).padStart(6)} s`,
      );
    }
    for (const leg of legs) {
      leg.rotateOne(sample + 1);
      await up(leg, "rotate one", sample);
    }
    for (const leg of legs) {
      leg.revokeOne(sample + 1);
      await up(leg, "revoke one", sample);
    }
  }
}

async function programLeg(users: number, mode: "direct" | "bitwarden"): Promise<Leg> {
  let server: BitwardenTestServer | undefined;
  let bw: BwCli | undefined;
  // Without the e2e stack's process watch (a /proc scan every 15 ms): at 500 users it cost this
  // process seconds of CPU per operation, which the floor does not pay; the strace count and the
  // sampler see the processes instead.
  const e2e = await E2EStack.create({}, { watchProcesses: false });
  const close = async () => {
    await e2e.cleanup();
    bw?.cleanup();
    await server?.stop();
  };
  try {
    const serverFile = path.join(e2e.dir, "fetchml-server.yaml");
    fs.writeFileSync(serverFile, withoutManagedEntries(SERVER_CONFIG, ["mallory"]), { mode: 0o600 });
    const config: Record<string, any> = {
      authConfigPath: serverFile,
      preserveEntries: ["svc-backup"],
      users: Object.fromEntries(Array.from({ length: users }, (_, i) => [`user${i}`, { role: "researcher", delivery: mode }])),
    };
    if (mode === "bitwarden") {
      server = await BitwardenTestServer.start();
      const { account, organization } = server.seed();
      bw = new BwCli(server.url, server.caFile, BW_DEFAULT);
      await bw.configure();
      await bw.loginWithPassword(account.email, account.password);
      e2e.setProgramEnv("BW_SESSION", bw.session);
      e2e.setProgramEnv("BITWARDENCLI_APPDATA_DIR", bw.dataDir);
      e2e.setProgramEnv("NODE_EXTRA_CA_CERTS", server.caFile);
      config.bitwarden = { organizationId: organization.id, collectionIds: [organization.collections.FetchML] };
    }
    e2e.setConfig(config);
    return {
      row: { what: "program", mode, users },
      sampler: new Sampler(e2e.engineBinary),
      up: () => e2e.up(),
      preview: () => e2e.preview(),
      stateCheck: () => refuseUntrustedState(e2e.stack, e2e.name),
      rotateOne: (k) => {
        config.users.user0.rotation = k;
        e2e.setConfig(config);
      },
      revokeOne: (k) => {
        delete config.users[`user${users - k}`];
        e2e.setConfig(config);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The engine floor: N RandomPasswords and nothing else, same engine, plugins and backend kind. */
async function floorLeg(users: number): Promise<Leg> {
  const engine = ensureEngine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchml-floor-"));
  fs.mkdirSync(path.join(dir, "state"));
  const plugins = choosePlugins(path.dirname(engine.binary));
  const envVars = engineEnvironment(undefined, { PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "floor" }, plugins);
  let names = Array.from({ length: users }, (_, i) => `user${i}`);
  let rotated = 0;
  const program = async () => {
    for (const name of names) {
      new random.RandomPassword(`${name}-key`, {
        length: 48,
        special: false,
        keepers: { rotation: String(name === "user0" ? rotated : 0) },
      });
    }
  };
  const workspace = await LocalWorkspace.create({
    workDir: dir,
    pulumiCommand: await PulumiCommand.get({ root: engine.root }),
    envVars,
    program,
    projectSettings: { name: "fetchml-floor", runtime: "nodejs" },
  });
  await workspace.createStack("floor");
  const s = await Stack.select("floor", workspace);
  return {
    row: { what: "floor", mode: "-", users },
    sampler: new Sampler(engine.binary),
    up: () => s.up({ ...UP_OPTIONS }),
    preview: () => s.preview(),
    rotateOne: (k) => (rotated = k),
    revokeOne: (k) => (names = names.slice(0, users - k)),
    close: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The admin's manual way, per user: a key, its SHA-256, one `bw create item` (timed on a sample). */
async function benchManual(users: number, sample: number): Promise<void> {
  const server = await BitwardenTestServer.start();
  const bw = new BwCli(server.url, server.caFile, BW_DEFAULT);
  try {
    const { account, organization } = server.seed();
    await bw.configure();
    await bw.loginWithPassword(account.email, account.password);
    const n = Math.min(users, sample);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const key = randomBytes(32).toString("hex");
      const hash = hashApiKey(key);
      await bw.createItem({
        type: 1,
        name: `FetchML API user${i}`,
        organizationId: organization.id,
        collectionIds: [organization.collections.FetchML],
        login: { username: `user${i}`, password: key },
        fields: [{ name: "api_key_hash", value: hash, type: 1 }],
        notes: null,
      });
    }
    const perUser = (performance.now() - start) / 1000 / n;
    record({
      what: "manual",
      mode: "bitwarden",
      users,
      op: "first up",
      sample: 0,
      measure: { seconds: perUser * users, resources: 0, bwProcesses: users, enginePeakMiB: 0, programPeakMiB: 0 },
      note: n < users ? `(${n} timed, ${perUser.toFixed(2)} s each, scaled to ${users})` : "",
    });
  } finally {
    bw.cleanup();
    await server.stop();
  }
}

/** Median wall time of a command, in seconds. */
function medianSeconds(command: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const r = spawnSync(command[0], command.slice(1), { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
    times.push((performance.now() - start) / 1000);
    if (r.status !== 0) throw new Error(`${command.join(" ")}: exit ${r.status}: ${r.stderr}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

let isolation: { bareSeconds: number; isolatedSeconds: number; addedSeconds: number; note: string } | undefined;

/** What the runner's isolation adds to every command: the same bare command, with and without it. */
function benchIsolation(): void {
  const node = path.join(PROJECT_ROOT, "node_modules", ".bin", "node");
  const script = path.join(PROJECT_ROOT, "scripts", "isolated.sh");
  const check = spawnSync("sh", [script, node, "-e", "0"], { encoding: "utf8" });
  const note = check.stderr.trim();
  const bareSeconds = medianSeconds([node, "-e", "0"], 9);
  const isolatedSeconds = medianSeconds(["sh", script, node, "-e", "0"], 9);
  isolation = { bareSeconds, isolatedSeconds, addedSeconds: isolatedSeconds - bareSeconds, note };
  console.log(
    `isolation: node -e 0 takes ${bareSeconds.toFixed(3)} s, inside scripts/isolated.sh ${isolatedSeconds.toFixed(3)} s: ` +
      `+${isolation.addedSeconds.toFixed(3)} s per command (median of 9)${note ? `; ${note}` : ""}`,
  );
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function summary(): void {
  const samples = (what: Row["what"], mode: Row["mode"], users: number, op: Op) =>
    rows.filter((r) => r.what === what && r.mode === mode && r.users === users && r.op === op).map((r) => r.measure.seconds);
  const find = (what: Row["what"], mode: Row["mode"], users: number, op: Op) => {
    const all = samples(what, mode, users, op);
    return all.length ? median(all) : undefined;
  };
  // Each program sample against the floor's of the same repetition (seconds apart), then their median.
  const ratioCell = (mode: Row["mode"], users: number, op: Op) => {
    const p = samples("program", mode, users, op);
    const f = samples("floor", "-", users, op);
    if (!p.length || p.length !== f.length) return "-";
    const ratios = p.map((s, i) => s / f[i]);
    const m = `${median(ratios).toFixed(2)}x`;
    return ratios.length > 1 ? `${m} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : m;
  };
  console.log(`\nprogram / engine floor (wall time${REPEAT > 1 ? `; median of ${REPEAT} paired ratios, and their range` : ""})`);
  console.log(["mode".padEnd(10), "users".padStart(5), ...OPS.map((o) => o.padStart(22))].join("  "));
  for (const mode of MODES) {
    for (const users of SIZES) {
      const cells = OPS.map((op) => ratioCell(mode, users, op).padStart(22));
      console.log([mode.padEnd(10), String(users).padStart(5), ...cells].join("  "));
    }
  }
  if (stateChecks.length) {
    console.log("\nthe runner's state check before each up/destroy (median; not in the ratios above)");
    for (const mode of MODES)
      for (const users of SIZES) {
        const all = stateChecks.filter((c) => c.mode === mode && c.users === users).map((c) => c.seconds);
        if (all.length) console.log(`${mode.padEnd(10)}  ${String(users).padStart(5)}  ${median(all).toFixed(2)} s (${all.length} runs)`);
      }
  }
  if (MODES.includes("bitwarden")) {
    console.log("\nmanual / program, first issue of Bitwarden users");
    for (const users of SIZES) {
      const m = find("manual", "bitwarden", users, "first up");
      const p = find("program", "bitwarden", users, "first up");
      if (m !== undefined && p !== undefined) console.log(`${String(users).padStart(5)} users  ${(m / p).toFixed(1)}x`);
    }
  }
  if (SIZES.length >= 2) {
    const [a, b] = SIZES.slice(-2);
    console.log(`\nslope between ${a} and ${b} users (ms per user)`);
    for (const what of ["program", "floor"] as const) {
      for (const mode of what === "floor" ? (["-"] as const) : MODES) {
        const cells = OPS.map((op) => {
          const ta = find(what, mode, a, op);
          const tb = find(what, mode, b, op);
          return (ta !== undefined && tb !== undefined ? `${(((tb - ta) / (b - a)) * 1000).toFixed(1)}` : "-").padStart(18);
        });
        console.log([`${what} ${mode}`.padEnd(18), ...cells].join("  "));
      }
    }
  }
}

(async () => {
  console.log(`bench: ${os.cpus().length} cores, node ${process.version}, sizes ${SIZES.join(", ")}, modes ${MODES.join(", ")}`);
  if (!opts["no-isolation"]) benchIsolation();
  if (!opts["no-processes"] && !opts["isolation-only"]) {
    if (!strace()) throw new Error("counting processes needs strace (apt-get install strace), or run with --no-processes");
    const binDir = spawnSync("/bin/bash", [path.join(PROJECT_ROOT, "scripts", "ensure-engine.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    engineTrace = new EngineTrace(path.join(binDir.stdout.trim(), "pulumi"));
  }
  for (const users of opts["isolation-only"] ? [] : SIZES) {
    const legs: Leg[] = [];
    try {
      if (!opts["no-floor"]) legs.push(await floorLeg(users));
      for (const mode of MODES) legs.push(await programLeg(users, mode));
      await measureOperations(legs);
    } finally {
      for (const leg of legs) await leg.close();
    }
    if (MODES.includes("bitwarden") && !opts["no-manual"]) await benchManual(users, 10);
  }
  if (!opts["isolation-only"]) summary();
  fs.writeFileSync(
    opts.json,
    JSON.stringify({ date: new Date().toISOString(), cores: os.cpus().length, rows, stateChecks, isolation }, null, 2),
  );
  console.log(`\nfigures written to ${opts.json}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
