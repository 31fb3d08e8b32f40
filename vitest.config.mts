import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
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
