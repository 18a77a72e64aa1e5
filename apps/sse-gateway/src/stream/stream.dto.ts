import { isValidEventTypePattern, listEventTypes, matchesEventType } from '@tidings/events';
import { ValidationProblem } from '@tidings/runtime';

/** `GET /events/stream` query, parsed. */
export interface StreamQuery {
  /** Requested event-type patterns; `['*']` when absent. */
  types: string[];
  resourceId?: string;
  /** Render every frame at this schema version when its type has it; otherwise at the type's latest. */
  version?: number;
  lastEventId?: string;
  accessToken?: string;
}

type Raw = Record<string, unknown>;

function single(query: Raw, name: string, errors: { field: string; message: string }[]): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    errors.push({ field: name, message: 'must be given once' });
    return undefined;
  }
  return v;
}

/** Validates the query; any problem is a 400 naming each bad field, before anything is opened. */
export function parseStreamQuery(query: Raw): StreamQuery {
  const errors: { field: string; message: string }[] = [];
  const typesRaw = single(query, 'types', errors);
  const types = typesRaw === undefined ? ['*'] : typesRaw.split(',').map((t) => t.trim());
  for (const t of types) {
    if (!isValidEventTypePattern(t))
      errors.push({ field: 'types', message: `unknown event type pattern "${t}"` });
  }
  const resourceId = single(query, 'resourceId', errors);
  if (
    resourceId !== undefined &&
    (resourceId.length === 0 || resourceId.length > 200 || resourceId.includes('\0'))
  ) {
    errors.push({ field: 'resourceId', message: 'must be 1–200 characters' });
  }
  const versionRaw = single(query, 'version', errors);
  let version: number | undefined;
  if (versionRaw !== undefined) {
    version = /^[1-9][0-9]{0,2}$/.test(versionRaw) ? Number(versionRaw) : undefined;
    if (version === undefined) errors.push({ field: 'version', message: 'must be a positive integer' });
  }
  const lastEventId = single(query, 'lastEventId', errors);
  const accessToken = single(query, 'access_token', errors);
  if (errors.length > 0) {
    throw new ValidationProblem(errors, errors.map((e) => `${e.field} ${e.message}`).join('; '));
  }
  return { types, resourceId, version, lastEventId, accessToken };
}

/** The concrete catalogue types matching one of `requested` AND one of `allowed` (a token's limit). */
export function effectiveTypes(requested: string[], allowed: string[]): string[] {
  return listEventTypes()
    .map((t) => t.type)
    .filter(
      (t) => requested.some((p) => matchesEventType(p, t)) && allowed.some((p) => matchesEventType(p, t)),
    );
}
