import { defaultScope, grantsScope } from './credentials';

describe('API key scopes', () => {
  it('need read to read and write for anything else, unless a route says otherwise', () => {
    expect(['GET', 'HEAD', 'get', 'head'].map(defaultScope)).toEqual(['read', 'read', 'read', 'read']);
    expect(['POST', 'PATCH', 'PUT', 'DELETE', 'post'].map(defaultScope)).toEqual(Array(5).fill('write'));
  });

  it('nest: admin grants write and read, write grants read, read grants only read', () => {
    expect(grantsScope(['admin'], 'read')).toBe(true);
    expect(grantsScope(['admin'], 'write')).toBe(true);
    expect(grantsScope(['write'], 'read')).toBe(true);
    expect(grantsScope(['write'], 'admin')).toBe(false);
    expect(grantsScope(['read'], 'write')).toBe(false);
    expect(grantsScope(['read', 'write'], 'write')).toBe(true);
    expect(grantsScope([], 'read')).toBe(false);
  });
});
