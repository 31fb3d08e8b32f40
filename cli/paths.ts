/** Where the project lives on disk, for the runner and the tests alike. */
import * as path from "node:path";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const PROJECT_NAME = "fetchml-keys";
