import { z } from 'zod';
import { normaliseHost, normaliseHosts } from './webhook-url';

/** A bare host (name or IP literal in any spelling, IPv6 with or without brackets): no scheme, port or path. */
function isBareHost(entry: string): boolean {
  const bare = entry.replace(/^\[|\]$/g, '');
  try {
    const url = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`);
    return (
      url.port === '' && url.pathname === '/' && url.username === '' && normaliseHost(url.hostname) !== ''
    );
  } catch {
    return false;
  }
}

/** The variables libs/egress reads; the api (creation) and the dispatcher (connect time) compose this fragment. */
export const egressConfigSchema = z.object({
  // Hosts exempt from the SSRF policy, matched by name as written in the URL (`127.0.0.1,localhost`): the api
  // accepts them at creation and the dispatcher connects to them. Off by default; local development and tests
  // set `127.0.0.1` so a receiver on this machine can be reached.
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const bad = text
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '' && !isBareHost(h));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `must be comma-separated host names or IP addresses without scheme, port or path: ${bad.join(', ')}`,
        });
        return z.NEVER;
      }
      return normaliseHosts(text);
    }),
});

export type EgressConfig = z.infer<typeof egressConfigSchema>;
