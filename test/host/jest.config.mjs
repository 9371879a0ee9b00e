// Jest config of the test-host suite (`npm run test:host`): kept apart from the default `npm test`,
// whose testMatch (`**/*.test.ts`) does not match `*.e2e.ts`. See docs/testing.md.
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('jest').Config} */
export default {
  rootDir: path.join(here, "..", ".."),
  testEnvironment: "node",
  roots: ["<rootDir>/test/host"],
  testMatch: ["**/*.e2e.ts"],
  transform: {
    // Type checking is done by `tsc --noEmit` (npm test); ts-jest only transpiles.
    "^.+\\.ts$": ["ts-jest", { diagnostics: false }],
  },
  // One booted host per file, its phases timed by the test itself: no parallel files, generous limits.
  maxWorkers: 1,
  testTimeout: 600000,
  verbose: true,
};
