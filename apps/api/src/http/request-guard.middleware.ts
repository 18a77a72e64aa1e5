import { Injectable, type NestMiddleware } from '@nestjs/common';
import { UnsupportedMediaTypeProblem, ValidationProblem } from '@tidings/runtime';
import type { NextFunction, Request, Response } from 'express';

// U+0000 cannot be stored in Postgres text or jsonb; an unpaired surrogate is not valid Unicode.
// eslint-disable-next-line no-control-regex -- finding U+0000 is the point of this pattern
const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// 32 levels is far deeper than any body the API defines (an order item is 3 deep); bounding the walk bounds the
// work a hostile body can cause in every later layer (validation, transformation, jsonb).
const MAX_DEPTH = 32;
// class-transformer drops these keys silently (prototype pollution); refusing them keeps the rule that an
// unknown field is a 400, not ignored.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

interface Finding {
  field: string;
  detail: string;
  message: string;
}

const unsafe = (field: string): Finding => ({
  field,
  detail: 'Strings may not contain NUL characters or unpaired surrogates',
  message: 'contains a NUL character or an unpaired surrogate',
});

function find(value: unknown, path: string, depth = 0): Finding | undefined {
  if (depth > MAX_DEPTH)
    return {
      field: path,
      detail: `JSON may be nested at most ${MAX_DEPTH} levels deep`,
      message: `is nested deeper than ${MAX_DEPTH} levels`,
    };
  if (typeof value === 'string') return UNSAFE.test(value) ? unsafe(path) : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = find(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const field = path ? `${path}.${k}` : k;
      if (UNSAFE.test(k)) return unsafe(field);
      if (FORBIDDEN_KEYS.has(k)) {
        const message = `property ${k} should not exist`;
        return { field, detail: `${field}: ${message}`, message };
      }
      const found = find(v, field, depth + 1);
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
 * Rejects what must never reach a service: a body that is not JSON (415); strings with NUL bytes or lone
 * surrogates (400 — otherwise Postgres would answer a 500 on jsonb/text); JSON nested deeper than 32 levels
 * and `__proto__`/`constructor` keys (400). Runs after the JSON parser, on the body, the query
 * string and the path.
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
      throw new UnsupportedMediaTypeProblem('Request bodies must be application/json');
    }
    // The query string and the path reach SQL parameters too (filters, ids): same rule. originalUrl, because
    // req.path is relative to where Nest mounts this middleware.
    const inQuery = find(req.query, '');
    const inPath = find(safeDecode(req.originalUrl.split('?')[0]), '');
    const found =
      find(req.body, '') ??
      (inQuery && { ...inQuery, field: inQuery.field || '(query)' }) ??
      (inPath && { ...inPath, field: '(path)' });
    if (found) {
      throw new ValidationProblem([{ field: found.field || '(body)', message: found.message }], found.detail);
    }
    next();
  }
}
