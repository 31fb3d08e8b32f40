/**
 * Whether dist/ holds what the sources in the tree compile to. The product runs as JavaScript
 * built once (`npm run build`, scripts/build.sh); a .ts file edited without building would
 * otherwise let plain `pulumi` or a step run the old code without a word. The build records
 * the SHA-256 of every source file tsc compiled (dist/build-stamp.json); every entry point
 * loads guard.ts first and refuses to run when one of them differs, is gone, or there is no
 * stamp. Content, not mtimes: a checkout changes mtimes without changing code, and a copy
 * (`cp -p`, an unpacked archive) can change code and keep an old mtime.
 *
 * Run as a script: `node dist/build/current.js` exits 0 when the build is current, else 1 with
 * the reason (scripts/fetchml-keys.sh then builds); `--stamp DIR` reads tsc's --listFiles
 * output on stdin and writes DIR's stamp (scripts/build.sh).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DIST_DIR, PROJECT_ROOT } from "../cli/paths";

export const STAMP_FILE = "build-stamp.json";

/** Besides the compiled files: the compiler settings decide the output too. */
const BUILD_INPUTS = ["tsconfig.json", "tsconfig.build.json"];

export interface Stamp {
  /** Path relative to the project root -> SHA-256 (hex) of its content when built. */
  sources: Record<string, string>;
}

/**
 * The stamp's shape, checked by hand: this runs at the start of every step and plugin, and
 * loading zod costs more than the whole check (0.35 s against 0.01 s on a loaded 2-core
 * machine); plugins that do not use zod would pay it for nothing.
 */
function parseStamp(text: string): Stamp | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const sources = (data as { sources?: unknown } | null)?.sources;
  if (typeof sources !== "object" || sources === null || Array.isArray(sources)) return undefined;
  const entries = Object.entries(sources);
  if (entries.length === 0 || !entries.every(([, hash]) => typeof hash === "string" && /^[0-9a-f]{64}$/.test(hash))) return undefined;
  return { sources: sources as Record<string, string> };
}

function digest(file: string): string | undefined {
  try {
    return createHash("sha256")
      .update(fs.readFileSync(path.join(PROJECT_ROOT, file)))
      .digest("hex");
  } catch {
    return undefined;
  }
}

/** The stamp for these sources (paths relative to the project root), as they are now. */
export function stampFor(sources: string[]): Stamp {
  const entries = [...new Set([...sources, ...BUILD_INPUTS])].sort().map((file) => {
    const hash = digest(file);
    if (!hash) throw new Error(`build: cannot read ${file}`);
    return [file, hash] as const;
  });
  return { sources: Object.fromEntries(entries) };
}

/** Why the build in `dist` is not current (what to tell the user), or undefined when it is. */
export function staleness(dist = DIST_DIR): string | undefined {
  const relative = path.relative(PROJECT_ROOT, dist);
  const shown = relative && !relative.startsWith("..") ? relative : dist;
  let text: string;
  try {
    text = fs.readFileSync(path.join(dist, STAMP_FILE), "utf8");
  } catch {
    return `no build in ${shown}/`;
  }
  const stamp = parseStamp(text);
  if (!stamp) return `${shown}/${STAMP_FILE} is not a build stamp`;
  const changed = Object.entries(stamp.sources)
    .filter(([file, hash]) => digest(file) !== hash)
    .map(([file]) => file)
    .sort();
  if (changed.length === 0) return undefined;
  const listed = changed.length > 5 ? `${changed.slice(0, 5).join(", ")} and ${changed.length - 5} more` : changed.join(", ");
  return `${shown}/ is older than the source (${listed} changed since it was built)`;
}

/** The source files tsc listed (`--listFiles`): the project's own .ts files, relative. */
export function compiledSources(listFiles: string): string[] {
  return listFiles
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && path.isAbsolute(line))
    .map((line) => path.relative(PROJECT_ROOT, line))
    .filter(
      (file) => !file.startsWith("..") && !file.split(path.sep).includes("node_modules") && /\.m?ts$/.test(file) && !file.endsWith(".d.ts"),
    );
}

function main(argv: string[]): number {
  if (argv[0] === "--stamp" && argv[1]) {
    const sources = compiledSources(fs.readFileSync(0, "utf8"));
    if (sources.length === 0) throw new Error("build: tsc listed no source files");
    fs.writeFileSync(path.join(argv[1], STAMP_FILE), `${JSON.stringify(stampFor(sources), null, 1)}\n`, { flag: "wx" });
    return 0;
  }
  const why = staleness();
  if (why) console.error(`fetchml-keys: ${why}`);
  return why ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
