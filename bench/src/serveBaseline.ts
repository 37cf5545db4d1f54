/**
 * The baseline of the `serve` rows: the same contract (`POST /data-action/reply` with
 * `{conversationId, turn, customerMessage}`, answered `{reply, status, idempotencyKey}`) written by hand with
 * `node:http`, `fetch` and the hand-written NDJSON loop; a token fetched once. No validation beyond the fields'
 * types, no safety, no retries, no audit, no auth. Run as its own process: prints its URL as the first line.
 *
 *   tsx bench/src/serveBaseline.ts SIMULATOR_URL
 */
import * as Http from "node:http"
import { bareCall } from "./baselines.js"
import { fetchToken } from "./simulator.js"

const simulatorUrl = process.argv[2]!
const token = await fetchToken({
  url: simulatorUrl,
  chatUrl: `${simulatorUrl}/api/v2/ai/llm-gateway/chat`,
  clientId: "bench-client",
  clientSecret: "bench-secret",
  close: async () => {}
})
const chatUrl = `${simulatorUrl}/api/v2/ai/llm-gateway/chat`

const answer = (res: Http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const server = Http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/data-action/reply") return answer(res, 404, { message: "not found" })
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    let input: { conversationId?: unknown; turn?: unknown; customerMessage?: unknown }
    try {
      input = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      return answer(res, 400, { message: "not JSON" })
    }
    if (typeof input.conversationId !== "string" || typeof input.customerMessage !== "string") {
      return answer(res, 400, { message: "invalid" })
    }
    const payload = {
      systemInstructions: ["You are a contact-center assistant."],
      context: [{ role: "user", content: input.customerMessage }],
      temperature: 0.2,
      maxTokens: 256,
      modelId: "genesys-default"
    }
    bareCall(chatUrl, token, payload).then(
      (result) => answer(res, 200, { reply: result.text, status: "success", idempotencyKey: "llm-gw-baseline" }),
      () => answer(res, 502, { message: "gateway failed" })
    )
  })
})
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number }
  process.stdout.write(`http://127.0.0.1:${address.port}\n`)
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
