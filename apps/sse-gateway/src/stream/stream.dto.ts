import { isValidEventTypePattern, listEventTypes, matchesEventType } from '@tidings/events';
import { ValidationProblem } from '@tidings/runtime';
import { z } from 'zod';

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

/** A query parameter given once (repeating one makes it an array, refused). */
const single = z.string({ error: 'must be given once' });

/**
 * The query as a schema (the route runs ahead of Nest, so no class-validator DTO): absent `types` means `*`;
 * every pattern must name catalogue types; `version` a positive integer.
 */
const streamQuerySchema = z
  .object({
    types: single.optional().transform((raw, ctx) => {
      const types = raw === undefined ? ['*'] : raw.split(',').map((t) => t.trim());
      for (const t of types)
        if (!isValidEventTypePattern(t))
          ctx.addIssue({ code: 'custom', message: `unknown event type pattern "${t}"` });
      return types;
    }),
    resourceId: single
      .min(1, 'must be 1–200 characters')
      .max(200, 'must be 1–200 characters')
      .refine((id) => !id.includes('\0'), 'must be 1–200 characters')
      .optional(),
    version: single
      .regex(/^[1-9][0-9]{0,2}$/, 'must be a positive integer')
      .transform(Number)
      .optional(),
    lastEventId: single.optional(),
    access_token: single.optional(),
  })
  .transform(({ access_token, ...rest }): StreamQuery => ({ ...rest, accessToken: access_token }));

/** Validates the query; any problem is a 400 naming each bad field, before anything is opened. */
export function parseStreamQuery(query: Record<string, unknown>): StreamQuery {
  const result = streamQuerySchema.safeParse(query);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ field: String(i.path[0]), message: i.message }));
  throw new ValidationProblem(errors, errors.map((e) => `${e.field} ${e.message}`).join('; '));
}

/** The concrete catalogue types matching one of `requested` AND one of `allowed` (a token's limit). */
export function effectiveTypes(requested: string[], allowed: string[]): string[] {
  return listEventTypes()
    .map((t) => t.type)
    .filter(
      (t) => requested.some((p) => matchesEventType(p, t)) && allowed.some((p) => matchesEventType(p, t)),
    );
}
