// Bundles each bin of the workspace into one ESM file (`bundle/bin.js` in its package) with esbuild, so that a
// command starts by loading one file instead of hundreds of modules. Code behind a dynamic `import()` (what only
// some commands need) goes into chunks under `bundle/chunks/`, loaded when that command runs.
//
//   node scripts/bundle.mjs             build every bin
//   node scripts/bundle.mjs --if-stale  build only the bins whose inputs changed since their last build
//
// `pnpm install` runs it (the root `prepare` script). A build records its inputs and their hash in
// `bundle/inputs.json`, which `--if-stale` compares with the files as they are now.
import * as esbuild from "esbuild"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import process from "node:process"
import * as url from "node:url"

const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..")

const bins = [
  { name: "genesys-llm", dir: "packages/cli" },
  { name: "genesys-llm-simulator", dir: "packages/simulator" }
]

// ESM output may contain CommonJS modules (ws, undici) that call `require` for Node's built-ins.
const banner = "import { createRequire as __createRequire } from \"node:module\";\n" +
  "const require = __createRequire(import.meta.url);"

const hashOf = (files) => {
  const hash = createHash("sha256")
  for (const file of files) {
    hash.update(file)
    hash.update(fs.existsSync(path.join(root, file)) ? fs.readFileSync(path.join(root, file)) : "")
  }
  return hash.digest("hex")
}

const isFresh = (outdir) => {
  const record = path.join(outdir, "inputs.json")
  if (!fs.existsSync(record) || !fs.existsSync(path.join(outdir, "bin.js"))) return false
  const { hash, inputs } = JSON.parse(fs.readFileSync(record, "utf8"))
  return hashOf(inputs) === hash
}

const build = async ({ dir }) => {
  const outdir = path.join(root, dir, "bundle")
  fs.rmSync(outdir, { recursive: true, force: true })
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { bin: path.join(dir, "src/bin.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    sourcemap: "linked",
    chunkNames: "chunks/[name]-[hash]",
    banner: { js: banner },
    // `serve`'s /metrics bundles the OpenTelemetry SDK's metrics and its Prometheus exporter, in serve's own chunks.
    // fs-ext is a native addon (the audit log's file lock): loaded from node_modules, so the bin's package depends
    // on it too. pg-native is the optional native driver of pg, which this project does not use (pg is pure JS).
    external: ["fs-ext", "pg-native"],
    metafile: true,
    logLevel: "warning"
  })
  const inputs = Object.keys(result.metafile.inputs).sort()
  fs.writeFileSync(path.join(outdir, "inputs.json"), JSON.stringify({ hash: hashOf(inputs), inputs }, null, 1))
  fs.chmodSync(path.join(outdir, "bin.js"), 0o755)
}

const ifStale = process.argv.includes("--if-stale")
for (const bin of bins) {
  if (ifStale && isFresh(path.join(root, bin.dir, "bundle"))) continue
  await build(bin)
}
