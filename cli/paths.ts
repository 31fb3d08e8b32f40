/** Where the project lives on disk, for the runner and the tests alike. */
import * as path from "node:path";

/**
 * The checkout. This file runs from its source (`cli/paths.ts`, under vitest) or built
 * (`dist/cli/paths.js`, everything else): the build mirrors the source tree under dist/.
 */
export const PROJECT_ROOT = path.resolve(__dirname, __filename.endsWith(".ts") ? ".." : "../..");
/** The build's output (`npm run build`; git-ignored): what every entry point runs. */
export const DIST_DIR = path.join(PROJECT_ROOT, "dist");
/**
 * Preloaded (`node --require`) by every Node process this checkout starts that is not one of its
 * own entry points (those import it through build/guard): packages are then found inside the
 * checkout only.
 */
export const MODULE_PATHS_PRELOAD = path.join(DIST_DIR, "build", "modulePaths.js");
export const PROJECT_NAME = "fetchml-keys";
