/**
 * Optional OpenTelemetry for Node: the spans of every `Effect.fn` stage and the Effect metrics of
 * `@genesys-llm/core/Metrics`, exported over OTLP/HTTP (JSON) to a collector, or printed by the console exporters
 * for local use. Built on `@effect/opentelemetry`'s `NodeSdk`; the SDK is flushed and shut down when the layer's
 * scope closes.
 *
 * ```ts
 * const program = Pipeline.run(input).pipe(Effect.provide(NodeTelemetry.layer({ serviceName: "agent-assist" })))
 * ```
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type * as Resource from "@effect/opentelemetry/Resource"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * Where spans and metrics go: an OTLP/HTTP collector, the console, or nowhere but `spanProcessors` and
 * `metricReaders` given in the options.
 *
 * @since 0.1.0
 * @category models
 */
export type Exporter = "otlp" | "console" | "none"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `genesys-llm`. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** Default `otlp`. */
  readonly exporter?: Exporter | undefined
  /** The collector's base URL (default `http://localhost:4318`): traces go to `/v1/traces`, metrics to `/v1/metrics`. */
  readonly endpoint?: string | undefined
  /** Headers for the collector, such as an API key. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** How often metrics are exported (default 60 seconds; they are also exported when the layer closes). */
  readonly metricExportInterval?: Duration.DurationInput | undefined
  /** More span processors, e.g. a `SimpleSpanProcessor` over an `InMemorySpanExporter` in a test. */
  readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined
  /** More metric readers. */
  readonly metricReaders?: ReadonlyArray<MetricReader> | undefined
}

/**
 * The default collector endpoint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultEndpoint = "http://localhost:4318"

const trimSlash = (url: string) => url.replace(/\/+$/, "")

/**
 * The SDK as a layer: provide it to a program and its spans and metrics are exported.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Resource.Resource> =>
  NodeSdk.layer(() => {
    const exporter = options.exporter ?? "otlp"
    const interval = Duration.toMillis(Duration.decode(options.metricExportInterval ?? Duration.seconds(60)))
    const endpoint = trimSlash(options.endpoint ?? defaultEndpoint)
    const headers = Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])
    )
    const spanProcessors: Array<SpanProcessor> = [...(options.spanProcessors ?? [])]
    const metricReaders: Array<MetricReader> = [...(options.metricReaders ?? [])]
    if (exporter === "otlp") {
      spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, headers })))
      metricReaders.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics`, headers }),
          exportIntervalMillis: interval
        })
      )
    } else if (exporter === "console") {
      spanProcessors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()))
      metricReaders.push(
        new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: interval })
      )
    }
    return {
      resource: {
        serviceName: options.serviceName ?? "genesys-llm",
        ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {})
      },
      spanProcessor: spanProcessors,
      metricReader: metricReaders
    }
  })

/**
 * From the environment: `GENESYS_LLM_TELEMETRY` is `otlp`, `console` or `off` (the default: no SDK at all);
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`) and `OTEL_SERVICE_NAME` (default
 * `genesys-llm`) as OpenTelemetry defines them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: Omit<Options, "exporter" | "endpoint" | "serviceName"> = {}): Layer.Layer<
  Resource.Resource,
  ConfigError.ConfigError
> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const mode = yield* Config.literal("otlp", "console", "off")("GENESYS_LLM_TELEMETRY").pipe(
      Config.withDefault("off" as const)
    )
    if (mode === "off") return NodeSdk.layerEmpty
    const endpoint = yield* Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT"))
    const serviceName = yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("genesys-llm"))
    return layer({
      ...options,
      exporter: mode,
      serviceName,
      endpoint: Option.getOrUndefined(endpoint)
    })
  }))
