// A gateway that answers 200 with nothing in it: the command says so and exits 4, instead of printing an empty
// answer as a success.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { GatewaySimulator } from "@genesys-llm/simulator"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Path from "node:path"
import { cli, lines } from "./utils.js"

describe("genesys-llm chat against a gateway that answers 200 with no content", () => {
  it.live(
    "exit 4, status error, error.tag InvalidAnswer, nothing on stdout but the summary",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "genesys-llm-empty-" })
        const simulator = yield* GatewaySimulator.make()
        const empty = { kind: "closeWithoutUsage", afterFrames: 0 } as const
        yield* simulator.control.enqueue(empty, empty, empty)
        const ran = yield* cli(
          [
            "chat",
            "--model",
            "m",
            "--user",
            "Hi",
            "--json",
            "--api-url",
            simulator.url,
            "--audit-log",
            Path.join(dir, "a")
          ],
          {
            env: {
              GENESYS_CLIENT_ID: simulator.credentials.clientId,
              GENESYS_CLIENT_SECRET: Redacted.value(simulator.credentials.clientSecret)
            }
          }
        )
        assert.strictEqual(ran.code, 4, ran.stderr)
        const out = lines(ran.stdout)
        assert.strictEqual(out.length, 1)
        const summary = JSON.parse(out[0]) as {
          readonly status: string
          readonly text: string
          readonly error?: { readonly tag: string; readonly message: string }
        }
        assert.strictEqual(summary.status, "error")
        assert.strictEqual(summary.text, "")
        assert.strictEqual(summary.error?.tag, "InvalidAnswer")
        assert.include(ran.stderr, "no content frame and no usage")
      }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)),
    120_000
  )
})
