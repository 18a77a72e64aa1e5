import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASSETS_DIR, bundleConsole } from './bundle';

describe('the console bundle', () => {
  it('is checked in exactly as its source builds (run `npm run console` after changing it)', async () => {
    const built = await bundleConsole();
    expect([...built.keys()].sort()).toEqual(['console.css', 'console.js']);
    expect(readdirSync(ASSETS_DIR).sort()).toEqual([...built.keys()].sort());
    for (const [name, bytes] of built) {
      expect([name, readFileSync(join(ASSETS_DIR, name)).equals(Buffer.from(bytes))]).toEqual([name, true]);
    }
  });
});
