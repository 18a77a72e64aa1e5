import { ValidationProblem } from '@tidings/runtime';
import { parseStreamQuery } from './stream.dto';

function refused(query: Record<string, unknown>): { field: string; message: string }[] {
  try {
    parseStreamQuery(query);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationProblem);
    return (error as ValidationProblem).errors;
  }
  throw new Error('accepted');
}

describe('parseStreamQuery', () => {
  it('defaults to every type and reads each parameter once', () => {
    expect(parseStreamQuery({})).toEqual({ types: ['*'] });
    expect(
      parseStreamQuery({
        types: 'order.*, message.received',
        resourceId: 'ord_1',
        version: '2',
        lastEventId: '41',
        access_token: 'tok',
      }),
    ).toEqual({
      types: ['order.*', 'message.received'],
      resourceId: 'ord_1',
      version: 2,
      lastEventId: '41',
      accessToken: 'tok',
    });
  });

  it('names every bad field at once, in query order', () => {
    expect(
      refused({
        types: 'order.nope',
        resourceId: '',
        version: '0',
        lastEventId: ['1', '2'],
        access_token: ['a', 'b'],
      }),
    ).toEqual([
      { field: 'types', message: 'unknown event type pattern "order.nope"' },
      { field: 'resourceId', message: 'must be 1–200 characters' },
      { field: 'version', message: 'must be a positive integer' },
      { field: 'lastEventId', message: 'must be given once' },
      { field: 'access_token', message: 'must be given once' },
    ]);
  });

  it('refuses a resource id over 200 characters or with a NUL, and a version of four digits', () => {
    expect(refused({ resourceId: 'x'.repeat(201) })).toEqual([
      { field: 'resourceId', message: 'must be 1–200 characters' },
    ]);
    expect(refused({ resourceId: 'a\0b' })).toEqual([
      { field: 'resourceId', message: 'must be 1–200 characters' },
    ]);
    expect(refused({ version: '1000' })).toEqual([
      { field: 'version', message: 'must be a positive integer' },
    ]);
    expect(refused({ types: ['order.*', 'message.*'] })).toEqual([
      { field: 'types', message: 'must be given once' },
    ]);
  });
});
