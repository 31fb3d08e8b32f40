/**
 * Loaded before any other module by every Node process of this checkout (through the build
 * guard, and by itself in the `bw` the vault step and `npm run bw` start): a `require` finds
 * packages inside this checkout only. Node looks for a package it cannot find in the
 * checkout's node_modules in the node_modules of every parent directory, up to `/`; bw's
 * node-fetch tries the optional `encoding`, which is not installed, so a checkout below a
 * directory another account can write (a clone in /tmp) loaded that account's code into
 * `bw serve`, as root, with the vault session in its environment.
 */
import * as fs from "node:fs";
import Module from "node:module";
import * as path from "node:path";

/** The checkout, as Node names the modules it loads (their real paths): this file is <checkout>/dist/build/. */
const checkout = fs.realpathSync(path.join(__dirname, "..", ".."));
/** Its node_modules, which may be a link to another checkout's (packages are named by their real paths). */
const packages = realpathOr(path.join(checkout, "node_modules"));
const within = (dir: string, root: string) => dir === root || dir.startsWith(root + path.sep);

/** `Module._nodeModulePaths(from)`: the node_modules directories Node searches for a package required from `from`. */
type Lookup = (from: string) => string[];
const loader = Module as unknown as { _nodeModulePaths: Lookup };
const everyParent = loader._nodeModulePaths;
loader._nodeModulePaths = (from: string) =>
  everyParent.call(Module, from).filter((dir) => within(dir, checkout) || (packages !== undefined && within(dir, packages)));

function realpathOr(file: string): string | undefined {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}
