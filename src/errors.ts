// Errors a user can act on. The CLI prints `message` as one line and exits 2;
// anything that is not a UserError is a bug: stack trace and exit 1.

export class UserError extends Error {
  constructor(
    message: string,
    readonly code: string = 'E_USER',
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/**
 * A full disk as the user sees it: an ENOSPC / EDQUOT from a file write, or SQLite's
 * SQLITE_FULL. Returns a UserError "disk full at <path>" (code E_DISK_FULL), or null for any
 * other error. `dbFile` names the database for SQLite's errors, which carry no path.
 */
export function diskFullError(e: unknown, dbFile: string): UserError | null {
  const err = e as { code?: string; path?: string } | null;
  if (!err || typeof err !== 'object') return null;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new UserError(`disk full at ${err.path ?? dbFile}`, 'E_DISK_FULL');
  if (err.code === 'SQLITE_FULL') return new UserError(`disk full at ${dbFile}`, 'E_DISK_FULL');
  return null;
}
