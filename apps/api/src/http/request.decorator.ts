import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { BadRequestProblem, requestTraceparent } from '@tidings/runtime';
import type { Request as ExpressRequest } from 'express';
import { IDEMPOTENCY_KEY } from '../idempotency/idempotency.service';

export interface MutationRequest {
  idempotencyKey?: string;
  ifMatch?: number;
  traceparent?: string;
  path: string;
  body: unknown;
}

// `*` or an ETag of ours ("3", W/"3" or 3): HTTP strips the spaces and tabs around a header value.
const IF_MATCH = /^[ \t]*(?:\*|(?:W\/)?"?(\d{1,9})"?)[ \t]*$/;

function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = IF_MATCH.exec(value);
  if (!m) throw new BadRequestProblem('If-Match must be an ETag returned by this API, e.g. "3"');
  return m[1] === undefined ? undefined : Number(m[1]);
}

/** Documents the If-Match header that `@Mutation()` reads (412 when it is not the current version). */
export const ApiIfMatch = () =>
  ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'The ETag of the version you read: the change is refused with 412 if it is not current',
    schema: { type: 'string', pattern: IF_MATCH.source },
  });

/** Documents the Idempotency-Key header of the POSTs that honour it (IdempotencyService). */
export const ApiIdempotencyKey = () =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Replays the first response for 24 h; the same key with another request is a 422, while the first is ' +
      'still running a 409',
    schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source },
  });

/**
 * The parts of a write request the services need: Idempotency-Key, If-Match, path, body and the traceparent
 * its work continues from (the request's SERVER span; with tracing off, the client's valid one).
 */
export const Mutation = createParamDecorator((_: unknown, ctx: ExecutionContext): MutationRequest => {
  const req = ctx.switchToHttp().getRequest<ExpressRequest>();
  return {
    idempotencyKey: req.header('idempotency-key'),
    ifMatch: parseIfMatch(req.header('if-match')),
    traceparent: requestTraceparent(req),
    path: req.path,
    body: req.body as unknown,
  };
});
