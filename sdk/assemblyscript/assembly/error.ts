// User errors. AssemblyScript has no exceptions that a guest can catch, so a SmartModule function
// reports an error the way Rust's `?` would end it: call `fail("why")` (or use a strict helper such
// as `valueString()` that calls it) and return. The SDK checks after each user call and turns the
// first error into the proper ABI answer: a runtime-error record for transforms (spec §5.8), rc -2
// with a hint for init, rc -99 for look_back. It never traps.

/** The first error reported during the current user call, or null. */
export let pendingError: string | null = null;

/**
 * Reports a user error for the current record (first one wins, like Rust's `?`). Returns false so
 * that a filter can `return fail("...")`.
 */
export function fail(hint: string): bool {
  if (pendingError === null) pendingError = hint;
  return false;
}

/** True when the current user call has reported an error. */
export function failed(): bool {
  return pendingError !== null;
}

export function clearError(): void {
  pendingError = null;
}

/** Takes the pending error (non-null), clearing it. */
export function takeError(): string {
  let e = pendingError;
  pendingError = null;
  return e === null ? "" : e;
}
