/**
 * Fields for a schema class's constructor, without the ones that are `undefined`: an optional field is then
 * absent, as a reader of the error (or a deep equality) expects, rather than present with `undefined`.
 *
 * @internal
 */

/** @internal */
export type Defined<A> =
  & { readonly [K in keyof A as undefined extends A[K] ? never : K]: A[K] }
  & { readonly [K in keyof A as undefined extends A[K] ? K : never]?: Exclude<A[K], undefined> }

/** @internal */
export const defined = <const A extends object>(fields: A): Defined<A> => {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    const value = (fields as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as Defined<A>
}
