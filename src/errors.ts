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
