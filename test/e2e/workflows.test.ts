/**
 * The repository's CI workflows: they parse, pass actionlint, run only commands that exist
 * (npm scripts of this project, Pulumi CLI subcommands), and keep to the safe patterns
 * (no pull_request_target, secrets only from the secrets context).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ensureEngine } from "../../cli/engine";
import { PROJECT_ROOT } from "../../cli/paths";
import { ensureActionlint } from "../support/actionlint";

const dir = path.join(PROJECT_ROOT, ".github", "workflows");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yml"));
const workflows = files.map((f) => ({
  file: f,
  text: fs.readFileSync(path.join(dir, f), "utf8"),
  doc: parse(fs.readFileSync(path.join(dir, f), "utf8")),
}));
const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).scripts as Record<string, string>;

function runSteps(doc: any): string[] {
  return Object.values(doc.jobs ?? {}).flatMap((job: any) => (job.steps ?? []).filter((s: any) => s.run).map((s: any) => String(s.run)));
}

describe("CI workflows", () => {
  it("exist for pull-request previews, deploys on main and a scheduled drift check", () => {
    const triggers = workflows.map((w) => Object.keys(w.doc.on ?? w.doc[true as never] ?? {}));
    expect(files.sort()).toEqual(["deploy.yml", "drift.yml", "preview.yml"]);
    expect(triggers.flat()).toEqual(expect.arrayContaining(["pull_request", "push", "schedule"]));
  });

  it("run on a change of any code their jobs run: no allowlist of paths, only docs and tests left out (attack45 F5)", () => {
    // The allowlists had left out cli/, scripts/, build/ (and deploy also bin/, steps/, targets/,
    // program/): such a change got no preview, and on merge rode into the next deploy unseen.
    for (const w of workflows) {
      for (const [event, trigger] of Object.entries((w.doc.on ?? {}) as Record<string, any>)) {
        if (!["push", "pull_request"].includes(event) || !trigger) continue;
        expect(trigger.paths, `${w.file} ${event}`).toBeUndefined();
        expect(trigger["paths-ignore"] ?? [], `${w.file} ${event}`).toEqual(["**/*.md", "test/**"]);
      }
    }
  });

  it("pass actionlint", () => {
    const result = spawnSync(ensureActionlint(), ["-no-color", ...files.map((f) => path.join(dir, f))], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("run only npm scripts this project has, and Pulumi subcommands that exist", () => {
    const engine = ensureEngine();
    const commands = workflows.flatMap((w) => runSteps(w.doc)).flatMap((run) => run.split("\n"));
    const npmScripts = commands.flatMap((line) => [...line.matchAll(/npm run (?:--silent )?([\w:-]+)/g)].map((m) => m[1]));
    expect(npmScripts.length).toBeGreaterThan(3);
    for (const script of npmScripts) expect(Object.keys(scripts)).toContain(script);
    const pulumiCommands = commands.flatMap((line) => [...line.matchAll(/(?:^|\s)pulumi ([a-z-]+)/g)].map((m) => m[1]));
    for (const sub of pulumiCommands) {
      expect(spawnSync(engine.binary, [sub, "--help"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).status).toBe(0);
    }
    const actionCommands = workflows.flatMap((w) =>
      Object.values(w.doc.jobs).flatMap((job: any) =>
        job.steps.filter((s: any) => String(s.uses).startsWith("pulumi/actions")).map((s: any) => s.with?.command),
      ),
    );
    for (const sub of actionCommands.filter(Boolean)) {
      expect(spawnSync(engine.binary, [sub, "--help"], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } }).status).toBe(0);
    }
  });

  it("never use pull_request_target, and take secrets only from the secrets context", () => {
    for (const w of workflows) {
      expect(w.text).not.toContain("pull_request_target");
      for (const line of w.text.split("\n")) {
        const m = /^\s*(PULUMI_CONFIG_PASSPHRASE|BW_\w+|AWS_SECRET_ACCESS_KEY|PGPASSWORD):\s*(.+)$/.exec(line);
        if (m) expect(m[2]).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
      }
    }
  });

  it("read secrets only in jobs that name a protected environment, which README says holds them as environment secrets", () => {
    // Repository (or organization) secrets reach any workflow a branch or pull request edits, with
    // no approval: a job without an environment can only be reading those (attack33 finding 4).
    const PROTECTED = ["preview", "production", "drift"];
    const readsSecrets = (part: unknown) => /\bsecrets\b/.test(JSON.stringify(part ?? {}));
    const used = new Set<string>();
    for (const w of workflows) {
      const { jobs, ...workflowLevel } = w.doc;
      expect(readsSecrets(workflowLevel), `${w.file}: secrets outside a job`).toBe(false);
      for (const [name, job] of Object.entries<any>(jobs)) {
        if (!readsSecrets(job)) continue;
        const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;
        expect(PROTECTED, `${w.file}: job ${name} reads secrets with environment ${JSON.stringify(environment)}`).toContain(environment);
        used.add(environment);
      }
    }
    expect([...used].sort()).toEqual(["drift", "preview", "production"]);
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const team = readme.slice(readme.indexOf("## State for a team"), readme.indexOf("## Versions and state"));
    expect(team).toContain("environment secrets");
    for (const environment of used) expect(team).toContain(`\`${environment}\``);
    expect(readme).not.toMatch(/repository secret|from the secret `STATE_PGPASSWORD`/);
  });

  it("hand the secrets only to the steps that run the engine, never to a whole job", () => {
    // A job's env reaches every step: the third-party actions (checkout, setup-node, the
    // comment), the install and the build, none of which needs a secret.
    const runsEngine = (step: any) =>
      /\bnpm run (?:--silent )?(?:keys|summary)\b/.test(String(step.run ?? "")) ||
      (String(step.uses ?? "").startsWith("pulumi/actions") && Boolean(step.with?.command));
    let steps = 0;
    for (const w of workflows) {
      for (const [name, job] of Object.entries<any>(w.doc.jobs)) {
        expect(JSON.stringify(job.env ?? {}), `${w.file}: job ${name}'s env`).not.toContain("secrets.");
        for (const step of job.steps ?? []) {
          if (!JSON.stringify(step).includes("secrets.")) continue;
          expect(runsEngine(step), `${w.file}: job ${name}, step ${step.name ?? step.uses ?? step.run}`).toBe(true);
          steps++;
        }
      }
    }
    expect(steps).toBe(5);
  });

  it("pin every action to a commit, its release named beside it", () => {
    // A tag can be moved by whoever controls the action's repository; a commit id cannot, and
    // the preview and deploy jobs hand pulumi/actions every secret they hold.
    const uses = workflows.flatMap((w) => w.text.split("\n").filter((line) => /^\s*(- )?uses:/.test(line)));
    expect(uses.length).toBe(10);
    for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it("restore no cache in a job that holds secrets", () => {
    // A cache is shared by every job of a ref (one pull request: refs/pull/N/merge) and restored
    // with tar -P into the checkout: a job without secrets, which runs unapproved, could save one
    // that overwrites scripts/build.sh for the approved job (attack40b F2).
    for (const w of workflows) {
      for (const [name, job] of Object.entries<any>(w.doc.jobs)) {
        if (!JSON.stringify(job).includes("secrets.")) continue;
        for (const step of job.steps ?? []) {
          expect(step.with?.cache, `${w.file}: job ${name}, ${step.uses ?? step.run}`).toBeUndefined();
          expect(String(step.uses ?? ""), `${w.file}: job ${name}`).not.toMatch(/^actions\/cache\b/);
        }
      }
    }
  });

  it("give a pull request's code no secrets before a reviewer approves it, and run no dependency install scripts", () => {
    for (const w of workflows) {
      const onPullRequest = Object.keys(w.doc.on ?? w.doc[true as never] ?? {}).includes("pull_request");
      for (const [name, job] of Object.entries<any>(w.doc.jobs)) {
        const usesSecrets = JSON.stringify(job).includes("secrets.");
        if (onPullRequest && usesSecrets) expect(job.environment, `${w.file}: job ${name}`).toBe("preview");
        for (const step of job.steps ?? []) {
          if (typeof step.run === "string" && /\bnpm (ci|install)\b/.test(step.run)) expect(step.run).toContain("--ignore-scripts");
        }
      }
    }
  });
});
