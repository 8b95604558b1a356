// The closed set of error kinds the Rust core reports. Mirrors
// `keyward_core::ErrorKind`; a Rust test checks this list for drift.
export const ERROR_KINDS = [
  'internal',
  'invalid',
  'locked',
  'mfa',
  'integrity',
  'exchange',
  'not_found',
  'findings',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** An error from the backend. Branch on `kind`, never on `message`. */
export class AppError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = 'AppError';
    this.kind = kind;
  }
}

function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (ERROR_KINDS as readonly string[]).includes(value);
}

/**
 * Turns whatever `invoke` rejected with into an AppError. The backend sends
 * `{ kind, message }`; anything else (a Tauri-level failure such as a denied
 * command) becomes `internal` with its text.
 */
export function toAppError(raw: unknown): AppError {
  if (raw instanceof AppError) return raw;
  if (typeof raw === 'object' && raw !== null) {
    const { kind, message } = raw as { kind?: unknown; message?: unknown };
    if (isErrorKind(kind) && typeof message === 'string') {
      return new AppError(kind, message);
    }
  }
  const text = typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : 'unknown error';
  return new AppError('internal', text);
}
