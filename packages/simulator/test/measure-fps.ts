/**
 * Measures the frames per second one simulator serves to concurrent streams (not a test; nothing is asserted):
 *
 *   pnpm exec tsx packages/simulator/test/measure-fps.ts [streams=50] [framesPerStream=20000] [frameChars=16]
 *
 * The simulator runs in its own process (the bin), so that the clients reading the streams do not share its
 * event loop; the figure is content frames received by all clients divided by the wall time of the run.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

const [streams = 50, framesPerStream = 20_000, frameChars = 16] = process.argv.slice(2).map(Number)
const root = Path.resolve(import.meta.dirname, "../../..")
const child = ChildProcess.spawn(
  Path.join(root, "node_modules/.bin/tsx"),
  [
    Path.join(root, "packages/simulator/src/bin.ts"),
    "--reply-bytes",
    String(framesPerStream * frameChars),
    "--frame-chars",
    String(frameChars),
    "--rpm",
    "1000000"
  ],
  { stdio: ["ignore", "pipe", "inherit"] }
)

const url = await new Promise<string>((resolve) => {
  let out = ""
  child.stdout.on("data", (data) => {
    out += data
    if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")))
  })
})

const tokenResponse = await fetch(`${url}/oauth/token`, {
  method: "POST",
  headers: {
    Authorization: `Basic ${Buffer.from("simulator-client:simulator-secret").toString("base64")}`,
    "Content-Type": "application/x-www-form-urlencoded"
  },
  body: "grant_type=client_credentials"
})
const { access_token } = await tokenResponse.json() as { access_token: string }

const body = (i: number) =>
  JSON.stringify({
    systemInstructions: [],
    context: [{ role: "user", content: `stream ${i}` }],
    temperature: 0,
    maxTokens: 4096,
    modelId: "bench"
  })

const readStream = async (i: number): Promise<number> => {
  const response = await fetch(`${url}/api/v2/ai/llm-gateway/chat`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${access_token}`,
      "Content-Type": "application/json",
      "Idempotency-Key": `bench-${i}-${Date.now()}`
    },
    body: body(i)
  })
  let newlines = 0
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    for (let j = 0; j < chunk.length; j++) if (chunk[j] === 10) newlines++
  }
  return newlines - 1 // the usage frame
}

await readStream(-1) // warm-up
const started = performance.now()
const counts = await Promise.all(Array.from({ length: streams }, (_, i) => readStream(i)))
const seconds = (performance.now() - started) / 1000
const frames = counts.reduce((a, b) => a + b, 0)
console.log(
  `${streams} streams x ${framesPerStream} frames of ${frameChars} chars: ${frames} frames in ${
    seconds.toFixed(2)
  } s = ` +
    `${Math.round(frames / seconds).toLocaleString("en-US")} frames/s`
)
child.kill("SIGTERM")
