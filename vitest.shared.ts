import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real loopback servers and child processes; a generous ceiling keeps a
    // slow CI machine from turning a hang-free test into a flaky one. No test asserts a duration.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { concurrent: false }
  }
})
