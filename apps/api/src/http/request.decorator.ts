import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ProblemError } from '@tidings/runtime';
import type { Request as ExpressRequest } from 'express';

export interface MutationRequest {
  idempotencyKey?: string;
  ifMatch?: number;
  traceparent?: string;
  path: string;
  body: unknown;
}

function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(value);
  if (!m)
    throw new ProblemError(400, 'Bad Request', 'If-Match must be an ETag returned by this API, e.g. "3"');
  return Number(m[1]);
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The parts of a write request the services need: Idempotency-Key, If-Match, traceparent, path and body. */
export const Mutation = createParamDecorator((_: unknown, ctx: ExecutionContext): MutationRequest => {
  const req = ctx.switchToHttp().getRequest<ExpressRequest>();
  const traceparent = req.header('traceparent');
  return {
    idempotencyKey: req.header('idempotency-key'),
    ifMatch: parseIfMatch(req.header('if-match')),
    traceparent: traceparent && TRACEPARENT.test(traceparent) ? traceparent : undefined,
    path: req.path,
    body: req.body as unknown,
  };
});
