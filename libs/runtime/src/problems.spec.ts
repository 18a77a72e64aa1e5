import { problemBody } from './problem.filter';
import * as problems from './problems';

const { ProblemError: _base, ...kinds } = problems;
const body = (p: problems.ProblemError) =>
  JSON.parse(problemBody(p, '/x', 'req-1')) as Record<string, unknown>;

describe('problem kinds', () => {
  it('give each kind its own title, hence its own type URI', () => {
    const samples = [
      new kinds.BadRequestProblem('a'),
      new kinds.MalformedJsonProblem(),
      new kinds.ValidationProblem([{ field: 'f', message: 'm' }]),
      new kinds.UnauthorizedProblem('a'),
      new kinds.ForbiddenProblem('a'),
      new kinds.NotFoundProblem('a'),
      new kinds.ConflictProblem('a'),
      new kinds.PreconditionFailedProblem('a', 1),
      new kinds.RequestTimeoutProblem('a'),
      new kinds.ContentTooLargeProblem('a'),
      new kinds.UnsupportedMediaTypeProblem('a'),
      new kinds.UnprocessableProblem('a'),
      new kinds.TooManyRequestsProblem('a', 1),
      new kinds.HeadersTooLargeProblem('a'),
    ];
    expect(new Set(samples.map((p) => p.constructor))).toEqual(new Set(Object.values(kinds)));
    const types = samples.map((p) => body(p).type);
    expect(new Set(types).size).toBe(samples.length);
  });

  it('render every 400 with field errors as validation-failed, whatever the detail', () => {
    const errors = [{ field: 'cursor', message: 'is not a cursor returned by this endpoint' }];
    expect(body(new kinds.ValidationProblem(errors, 'cursor is bad', { reason: 'x' }))).toEqual({
      type: 'https://tidings.dev/problems/validation-failed',
      title: 'Validation Failed',
      status: 400,
      detail: 'cursor is bad',
      instance: '/x',
      requestId: 'req-1',
      reason: 'x',
      errors,
    });
    expect(new kinds.ValidationProblem(errors).detail).toBe(
      'cursor: is not a cursor returned by this endpoint',
    );
  });

  it('carry the headers their kind requires', () => {
    expect(new kinds.UnauthorizedProblem('a').headers).toEqual({
      'WWW-Authenticate': 'Bearer realm="tidings"',
    });
    expect(new kinds.UnauthorizedProblem('a', 'tidings-sse').headers).toEqual({
      'WWW-Authenticate': 'Bearer realm="tidings-sse"',
    });
    expect(new kinds.TooManyRequestsProblem('a', 30).headers).toEqual({ 'Retry-After': '30' });
    expect(new kinds.PreconditionFailedProblem('a', 3)).toMatchObject({
      status: 412,
      extra: { currentVersion: 3 },
      headers: { ETag: '"3"' },
    });
  });

  it('name what is not found, or take the detail as given', () => {
    expect(new kinds.NotFoundProblem('Order', 'ord_1').detail).toBe('Order ord_1 does not exist');
    expect(new kinds.NotFoundProblem('Tenant creation is disabled').detail).toBe(
      'Tenant creation is disabled',
    );
  });
});
