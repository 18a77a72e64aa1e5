export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * A failure the caller can act on, rendered as RFC 9457 `application/problem+json`. Code throws one of the
 * kinds below; the base class is for the filter's mapping of framework errors.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }
}

// One class per kind of failure a client acts on: the kind fixes the status, the title and so the `type` URI
// (https://tidings.dev/problems/<slug of the title>); callers choose only the detail and the kind's extras.

/** A request that cannot be read at all (a malformed header, bytes that are not HTTP or UTF-8). */
export class BadRequestProblem extends ProblemError {
  constructor(detail: string) {
    super(400, 'Bad Request', detail);
  }
}

/** A body that is not JSON (body-parser's parse failure). */
export class MalformedJsonProblem extends ProblemError {
  constructor() {
    super(400, 'Malformed JSON', 'The request body is not valid JSON');
  }
}

/** Input that was read but breaks a rule: one entry per offending field, in `errors`. */
export class ValidationProblem extends ProblemError {
  constructor(
    readonly errors: FieldProblem[],
    detail = errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    extra: Record<string, unknown> = {},
  ) {
    super(400, 'Validation Failed', detail, { ...extra, errors });
  }
}

/** No credential, or one that is malformed, unknown, revoked or expired. */
export class UnauthorizedProblem extends ProblemError {
  constructor(detail: string, realm = 'tidings') {
    super(401, 'Unauthorized', detail, {}, { 'WWW-Authenticate': `Bearer realm="${realm}"` });
  }
}

/** A valid credential that does not allow this request. */
export class ForbiddenProblem extends ProblemError {
  constructor(detail: string) {
    super(403, 'Forbidden', detail);
  }
}

/** `new NotFoundProblem('Order', id)` says "Order <id> does not exist"; with one argument it is the detail. */
export class NotFoundProblem extends ProblemError {
  constructor(what: string, id?: string) {
    super(404, 'Not Found', id === undefined ? what : `${what} ${id} does not exist`);
  }
}

/** The resource's current state does not allow the request; `extra` says what the state is. */
export class ConflictProblem extends ProblemError {
  constructor(detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(409, 'Conflict', detail, extra, headers);
  }
}

/** If-Match names a version that is not the current one; the current one is in the body and the ETag. */
export class PreconditionFailedProblem extends ProblemError {
  constructor(detail: string, currentVersion: number) {
    super(412, 'Precondition Failed', detail, { currentVersion }, { ETag: `"${currentVersion}"` });
  }
}

export class RequestTimeoutProblem extends ProblemError {
  constructor(detail: string) {
    super(408, 'Request Timeout', detail);
  }
}

export class ContentTooLargeProblem extends ProblemError {
  constructor(detail: string) {
    super(413, 'Content Too Large', detail);
  }
}

export class UnsupportedMediaTypeProblem extends ProblemError {
  constructor(detail: string) {
    super(415, 'Unsupported Media Type', detail);
  }
}

/** Well-formed input the API understands but will not act on (a refused webhook URL, a reused key). */
export class UnprocessableProblem extends ProblemError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super(422, 'Unprocessable Content', detail, extra);
  }
}

/** A limit was reached; retry after `retryAfterSeconds`. */
export class TooManyRequestsProblem extends ProblemError {
  constructor(detail: string, retryAfterSeconds: number) {
    super(429, 'Too Many Requests', detail, {}, { 'Retry-After': String(retryAfterSeconds) });
  }
}

export class HeadersTooLargeProblem extends ProblemError {
  constructor(detail: string) {
    super(431, 'Request Header Fields Too Large', detail);
  }
}
