import { CATALOGUE } from './catalogue';

/**
 * Subscription and stream filters: an exact type (`order.created`), a prefix wildcard (`order.*`, which
 * also matches deeper types such as `webhook.subscription.*` → `webhook.subscription.disabled`), or `*`.
 */
export function matchesEventType(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

const PATTERN = /^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/;

/** A pattern is valid when it is well-formed and matches at least one type of the catalogue. */
export function isValidEventTypePattern(pattern: string): boolean {
  return PATTERN.test(pattern) && CATALOGUE.some((d) => matchesEventType(pattern, d.type));
}

/** Every valid pattern: `*`, each prefix wildcard of a catalogue type, and each type (JSON Schema enums). */
export function eventTypePatterns(): string[] {
  const wildcards = CATALOGUE.flatMap((d) => {
    const parts = d.type.split('.');
    return parts.slice(1).map((_, i) => `${parts.slice(0, i + 1).join('.')}.*`);
  });
  return [...new Set(['*', ...wildcards, ...CATALOGUE.map((d) => d.type)])];
}
