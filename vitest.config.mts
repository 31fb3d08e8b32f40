import { defineConfig } from "vitest/config";

// .ci/run asks for a machine-readable report too, to print CI's "N passed, N failed" line.
const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  test: {
    reporters: jsonReport ? ["default", ["json", { outputFile: jsonReport }]] : ["default"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Several unit tests start a step or a plugin as a process: on a busy 2-core machine
          // that alone can take longer than vitest's 5 s default.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // Builds or finds the engine once; fails (never skips) when it cannot.
          globalSetup: ["test/support/engineSetup.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Two cores: one end-to-end file at a time keeps engine runs from starving each other.
          fileParallelism: false,
        },
      },
    ],
  },
});
