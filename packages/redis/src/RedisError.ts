/**
 * The errors of the Redis layers. None of them carries a password, a token or a key: a URL is shown without its
 * credentials.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Redis could not be reached when a layer started (refused, timed out, wrong password, TLS). A layer that started
 * does not fail later: see the package README for what each one does while Redis is lost.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisUnavailable extends Schema.TaggedError<RedisUnavailable>("@genesys-llm/redis/RedisUnavailable")(
  "RedisUnavailable",
  {
    /** Where the URL came from, such as `GENESYS_LLM_REDIS_URL` or `--redis-url`. */
    setting: Schema.String,
    /** The URL without its user name and password. */
    target: Schema.String,
    description: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  override get message(): string {
    return `Redis at ${this.target} (from ${this.setting}) could not be reached: ${this.description}`
  }
}

/**
 * A setting of the Redis layers is malformed: a URL that is not `redis://` or `rediss://`, an encryption key that
 * is not 32 bytes.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRedisSetting
  extends Schema.TaggedError<InvalidRedisSetting>("@genesys-llm/redis/InvalidRedisSetting")("InvalidRedisSetting", {
    setting: Schema.String,
    description: Schema.String
  })
{
  override get message(): string {
    return `${this.setting}: ${this.description}`
  }
}

/**
 * A Redis command failed or timed out while running (the connection was lost). The layers catch it and fall back
 * as the README says; it is exported for users of `RedisClient`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisCommandFailed
  extends Schema.TaggedError<RedisCommandFailed>("@genesys-llm/redis/RedisCommandFailed")("RedisCommandFailed", {
    command: Schema.String,
    description: Schema.String
  })
{
  override get message(): string {
    return `the Redis command ${this.command} failed: ${this.description}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type RedisStartError = RedisUnavailable | InvalidRedisSetting
