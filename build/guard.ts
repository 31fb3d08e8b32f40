/**
 * Loaded first by every entry point (`node --require dist/build/guard.js`: bin/fetchml-keys-step,
 * the offline plugins' launchers, the runner, and Pulumi.yaml's `nodeargs` for plain `pulumi`):
 * packages are found inside this checkout only (modulePaths.ts), and code built from other
 * sources than the tree's (current.ts) refuses to run, before any other module is loaded.
 */
import "./modulePaths";
import { staleness } from "./current";

const why = staleness();
if (why) {
  console.error(`fetchml-keys: ${why}: run \`npm run build\` (the product runs only as built from the sources in the tree)`);
  process.exit(1);
}
