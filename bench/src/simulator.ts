/**
 * The gateway simulator in its own process (its bin, from source), so that the process being measured does not
 * share its event loop or its heap with the server.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "../..")

export interface Simulator {
  readonly url: string
  readonly chatUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly close: () => Promise<void>
}

export const spawnSimulator = async (options: {
  readonly replyBytes?: number | undefined
  readonly frameChars?: number | undefined
  readonly paceMs?: number | undefined
} = {}): Promise<Simulator> => {
  const args = [
    "--import",
    "tsx",
    Path.join(root, "packages/simulator/src/bin.ts"),
    "--port",
    "0",
    "--pace-ms",
    String(options.paceMs ?? 0),
    "--rpm",
    "100000000",
    ...(options.replyBytes === undefined ? [] : ["--reply-bytes", String(options.replyBytes)]),
    ...(options.frameChars === undefined ? [] : ["--frame-chars", String(options.frameChars)])
  ]
  const child = ChildProcess.spawn(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, GENESYS_CLIENT_ID: "bench-client", GENESYS_CLIENT_SECRET: "bench-secret" }
  })
  // A run that crashes or exits early takes its simulator with it.
  const killOnExit = () => child.kill("SIGTERM")
  process.once("exit", killOnExit)
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    child.once("exit", (code) => reject(new Error(`the simulator exited with code ${code}`)))
    child.stdout.on("data", (data: Buffer) => {
      out += data.toString()
      const newline = out.indexOf("\n")
      if (newline >= 0) resolve(out.slice(0, newline).trim())
    })
  })
  child.removeAllListeners("exit")
  return {
    url,
    chatUrl: `${url}/api/v2/ai/llm-gateway/chat`,
    clientId: "bench-client",
    clientSecret: "bench-secret",
    close: () =>
      new Promise<void>((resolve) => {
        process.off("exit", killOnExit)
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      })
  }
}

/** A bearer token from the simulator, fetched by hand (the baselines' token). */
export const fetchToken = async (simulator: Simulator): Promise<string> => {
  const response = await fetch(`${simulator.url}/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${
        Buffer.from(`${encodeURIComponent(simulator.clientId)}:${encodeURIComponent(simulator.clientSecret)}`)
          .toString("base64")
      }`,
      "content-type": "application/x-www-form-urlencoded"
    },
    body: "grant_type=client_credentials"
  })
  if (response.status !== 200) throw new Error(`token request answered ${response.status}`)
  const body = (await response.json()) as { readonly access_token: string }
  return body.access_token
}
