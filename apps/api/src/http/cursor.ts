import { ProblemError } from '@tidings/runtime';

/** Opaque keyset cursor over (created_at, id), newest first. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at)))
      return { createdAt: new Date(at), id };
  } catch {
    // fall through
  }
  throw new ProblemError(400, 'Bad Request', 'cursor is not a cursor returned by this API', {
    errors: [{ field: 'cursor', message: 'invalid cursor' }],
  });
}
