import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { requestIdFor } from './logging';
import {
  BadRequestProblem,
  ContentTooLargeProblem,
  MalformedJsonProblem,
  ProblemError,
  UnsupportedMediaTypeProblem,
} from './problems';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

// Error codes of the decompression streams body-parser pipes a Content-Encoding through: zlib's (Z_DATA_ERROR,
// Z_BUF_ERROR for gzip and deflate) and brotli's (ERR__ERROR_FORMAT_…). body-parser passes them on with a
// 400 status and no `type`.
const DECODER_ERROR = /^(Z_|ERR__)/;

/** Maps express/body-parser errors (they carry `status` and `type`) to precise problems. */
function bodyParserProblem(error: unknown): ProblemError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, type, code } = error as { status?: unknown; type?: unknown; code?: unknown };
  if (status === 400 && type === undefined && typeof code === 'string' && DECODER_ERROR.test(code))
    return new BadRequestProblem('The request body is not valid data for its Content-Encoding');
  if (typeof status !== 'number' || typeof type !== 'string') return undefined;
  switch (type) {
    case 'entity.too.large':
      return new ContentTooLargeProblem('The request body exceeds the size limit');
    case 'entity.parse.failed':
      return new MalformedJsonProblem();
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeProblem('Unsupported content encoding or charset');
    default:
      return status >= 400 && status < 500
        ? new ProblemError(status, TITLES[status] ?? 'Bad Request')
        : undefined;
  }
}

/** The RFC 9457 body of a problem; `requestId` (the response's X-Request-Id) is an extension member. */
export function problemBody(
  problem: ProblemError,
  instance: string | undefined,
  requestId: string | undefined,
): string {
  return JSON.stringify({
    ...problem.extra,
    type: `https://tidings.dev/problems/${slug(problem.title)}`,
    title: problem.title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    instance,
    requestId,
  });
}

/**
 * Answers a request handled outside Nest's pipeline (plain Node response) the way ProblemFilter would.
 */
export function writeProblem(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  instance: string | undefined,
  filter: ProblemFilter = new ProblemFilter(),
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const problem = filter.toProblem(error);
  res.writeHead(problem.status, {
    ...problem.headers,
    'content-type': 'application/problem+json; charset=utf-8',
  });
  res.end(problemBody(problem, instance, requestIdFor(req)));
}

/** The one error edge of an HTTP app: known errors become problem+json; anything else is a logged 500. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const problem = this.toProblem(error);
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
    res
      .status(problem.status)
      .type('application/problem+json')
      .send(problemBody(problem, req.originalUrl, requestIdFor(req)));
  }

  /** The problem an error becomes: ProblemError as is, framework errors mapped, anything else a logged 500. */
  toProblem(error: unknown): ProblemError {
    if (error instanceof ProblemError) return error;
    const parser = bodyParserProblem(error);
    if (parser) return parser;
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const body = error.getResponse();
      const title = TITLES[status] ?? error.name;
      if (typeof body === 'string') return new ProblemError(status, title, body);
      const { message, error: _e, statusCode: _s, ...extra } = body as Record<string, unknown>;
      const detail = Array.isArray(message)
        ? message.join('; ')
        : typeof message === 'string'
          ? message
          : undefined;
      return new ProblemError(status, title, detail === title ? undefined : detail, extra);
    }
    this.logger.error({ err: error }, 'unexpected error');
    return new ProblemError(500, 'Internal Server Error', 'An unexpected error occurred');
  }
}
