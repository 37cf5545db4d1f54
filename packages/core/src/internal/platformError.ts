import type * as PlatformError from "@effect/platform/Error"

/** @internal */
export type FileFailureReason = "no-space" | "permission-denied" | "not-found" | "busy" | "io"

const errnoOf = (error: PlatformError.PlatformError): string | undefined => {
  const cause = error.cause
  if (typeof cause === "object" && cause !== null) {
    const code = (cause as Record<string, unknown>).code
    if (typeof code === "string") return code
  }
  const match = /^(E[A-Z]+)\b/.exec(error.description ?? "")
  return match === null ? undefined : match[1]
}

// Node maps only some errno codes to a SystemError reason (ENOSPC becomes "Unknown"), so the errno of the
// cause is consulted as well.
/** @internal */
export const reasonOf = (error: PlatformError.PlatformError): FileFailureReason => {
  const errno = errnoOf(error)
  if (errno === "ENOSPC" || errno === "EDQUOT") return "no-space"
  if (errno === "EACCES" || errno === "EPERM" || errno === "EROFS") return "permission-denied"
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "PermissionDenied":
        return "permission-denied"
      case "NotFound":
        return "not-found"
      case "Busy":
        return "busy"
      default:
        return "io"
    }
  }
  return "io"
}

/** @internal */
export const isNotFound = (error: PlatformError.PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "NotFound"
