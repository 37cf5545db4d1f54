/**
 * The routes an operator and an orchestrator need: `GET /healthz` (the process answers), `GET /readyz` (ready when
 * a gateway token was obtained and the service is not draining; the audit sink is open for as long as the service
 * runs, since it is opened before the server listens and closed after it stops), and `GET /metrics`, every Effect
 * metric of the process in the Prometheus text format, by the OpenTelemetry Prometheus exporter over
 * `@effect/opentelemetry`'s metric producer (so a metric added anywhere appears without a change here).
 *
 * @since 0.1.0
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Lifecycle from "./Lifecycle.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface PrometheusService {
  /** The current value of every metric, in the Prometheus text format. */
  readonly scrape: Effect.Effect<string>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Prometheus extends Context.Tag("@genesys-llm/server/Ops/Prometheus")<Prometheus, PrometheusService>() {}

/**
 * The content type of the Prometheus text format.
 *
 * @since 0.1.0
 * @category models
 */
export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The exporter as a pull reader of the Effect metrics (no server of its own: `/metrics` is a route of ours).
 *
 * @since 0.1.0
 * @category layers
 */
export const prometheusLayer = (serviceName = "genesys-llm"): Layer.Layer<Prometheus> =>
  Layer.unwrapEffect(Effect.sync(() => {
    const exporter = new PrometheusExporter({ preventServerStart: true })
    const serializer = new PrometheusSerializer(undefined, false, undefined, true, true)
    const scrape = Effect.promise(() => exporter.collect()).pipe(
      Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
    )
    return Layer.merge(Layer.succeed(Prometheus, { scrape }), OtelMetrics.layer(() => exporter))
  })).pipe(Layer.provide(OtelResource.layer({ serviceName })))

const json = (status: number, body: unknown) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store" } })

const readiness = (lifecycle: Lifecycle.Service) =>
  Effect.gen(function*() {
    const draining = yield* lifecycle.draining
    const token = yield* lifecycle.tokenObtained
    const reasons = [
      ...(token ? [] : ["no gateway token obtained yet"]),
      ...(draining ? ["draining: the service is shutting down"] : [])
    ]
    return reasons.length === 0 ? json(200, { status: "ready" }) : json(503, { status: "not ready", reasons })
  })

/**
 * The three routes, added to the `HttpApiBuilder.Router` of the API they are served with.
 *
 * @since 0.1.0
 * @category layers
 */
export const routes: Layer.Layer<never, never, Lifecycle.Lifecycle | Prometheus> = HttpApiBuilder.Router.use(
  (router) =>
    Effect.gen(function*() {
      const prometheus = yield* Prometheus
      const lifecycle = yield* Lifecycle.Lifecycle
      yield* router.get("/healthz", Effect.succeed(json(200, { status: "alive" })))
      yield* router.get("/readyz", readiness(lifecycle))
      yield* router.get(
        "/metrics",
        Effect.map(prometheus.scrape, (text) => HttpServerResponse.text(text, { contentType: prometheusContentType }))
      )
    })
)

/**
 * The routes with the Prometheus exporter.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never, never, Lifecycle.Lifecycle> = routes.pipe(Layer.provide(prometheusLayer()))
