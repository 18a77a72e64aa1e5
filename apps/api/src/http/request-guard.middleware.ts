import { Injectable, type NestMiddleware } from '@nestjs/common';
import { ProblemError } from '@tidings/runtime';
import type { NextFunction, Request, Response } from 'express';

// U+0000 cannot be stored in Postgres text or jsonb; an unpaired surrogate is not valid Unicode.
// eslint-disable-next-line no-control-regex -- finding U+0000 is the point of this pattern
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function findUnsafe(value: unknown, path: string, depth = 0): string | undefined {
  if (depth > 32) return path;
  if (typeof value === 'string') return UNSAFE.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsafe(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (UNSAFE.test(k)) return `${path}.${k}`;
      const found = findUnsafe(v, path ? `${path}.${k}` : k, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Rejects what must never reach a service: a body that is not JSON (415) and strings with NUL bytes or
 * lone surrogates (400 — otherwise Postgres would answer a 500 on jsonb/text). Runs after the JSON parser, on the body, the query string and the path.
 */
@Injectable()
export class RequestGuardMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (
      hasBody &&
      ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) &&
      !req.is(['application/json', 'application/*+json'])
    ) {
      throw new ProblemError(415, 'Unsupported Media Type', 'Request bodies must be application/json');
    }
    // The query string and the path reach SQL parameters too (filters, ids): same rule. originalUrl, because
    // req.path is relative to where Nest mounts this middleware.
    const inQuery = findUnsafe(req.query, '');
    const unsafe =
      findUnsafe(req.body, '') ??
      (inQuery !== undefined ? inQuery || '(query)' : undefined) ??
      (findUnsafe(safeDecode(req.originalUrl.split('?')[0]), '') !== undefined ? '(path)' : undefined);
    if (unsafe !== undefined) {
      throw new ProblemError(
        400,
        'Bad Request',
        'Strings may not contain NUL characters or unpaired surrogates',
        {
          errors: [
            { field: unsafe || '(body)', message: 'contains a NUL character or an unpaired surrogate' },
          ],
        },
      );
    }
    next();
  }
}
