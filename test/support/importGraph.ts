/**
 * The project's own import graph, read with the TypeScript compiler's pre-processor (every
 * `import`, `import type`, `export ... from` and `import()` with a relative specifier), and the
 * cycles in it. A cycle is a module that, through its imports, imports itself: its owner is
 * unclear, and a lazy `import()` that hides one still is one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

const SKIP = new Set(["node_modules", "dist", "coverage"]);

/** Every .ts/.mts file below root, skipping node_modules, build output and dot-folders. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.m?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
    }
  };
  walk(root);
  return out.sort();
}

/** The project files a file imports (relative specifiers resolved as TypeScript would). */
export function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith("./") || spec.startsWith("../"))
    .map((spec) => resolve(path.resolve(path.dirname(file), spec)))
    .filter((f): f is string => f !== undefined);
}

function resolve(base: string): string | undefined {
  const stem = base.replace(/\.(m?js|m?ts)$/, "");
  return [`${stem}.ts`, `${stem}.mts`, path.join(base, "index.ts")].find((f) => fs.existsSync(f));
}

/** Each cycle once, as the files on it (relative to root), starting from its first in sort order. */
export function importCycles(root: string, files = sourceFiles(root)): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const cycles = new Map<string, string[]>();
  const done = new Set<string>();
  const visit = (file: string, stack: string[]) => {
    const at = stack.indexOf(file);
    if (at >= 0) {
      const cycle = stack.slice(at);
      const first = cycle.indexOf([...cycle].sort()[0]);
      const canonical = [...cycle.slice(first), ...cycle.slice(0, first)].map((f) => path.relative(root, f));
      cycles.set(canonical.join(" -> "), canonical);
      return;
    }
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...stack, file]);
    done.add(file);
  };
  for (const file of files) visit(file, []);
  return [...cycles.values()];
}
