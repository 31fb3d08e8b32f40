/** Kept for stacks made before fetchml-keys 0.2, whose state stores this command (see legacy.ts). */
import { runLegacy } from "./legacy";

runLegacy("write-secret-file");
