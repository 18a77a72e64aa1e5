// Integration tests talk to a real broker and database on a 2-core machine: give each test a minute.
jest.setTimeout(60_000);
