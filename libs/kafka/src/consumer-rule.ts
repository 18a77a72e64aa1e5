import type { IncomingMessage, OutgoingMessage } from './kafka.port';

/** Thrown by a handler for a message it can never process (undecodable, unknown type or version). */
export class PoisonMessageError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'PoisonMessageError';
  }
}

export type Decision =
  { kind: 'commit' } | { kind: 'dead-letter'; reason: string } | { kind: 'retry'; error: unknown };

/**
 * The commit rule, in one place (CONVENTIONS.md, Code 8): success → commit; poison → dead-letter topic,
 * then commit; any other error → no commit, back off, handle the same message again.
 */
export async function decide(
  handle: (m: IncomingMessage) => Promise<void>,
  message: IncomingMessage,
): Promise<Decision> {
  try {
    await handle(message);
    return { kind: 'commit' };
  } catch (error) {
    if (error instanceof PoisonMessageError) return { kind: 'dead-letter', reason: error.message };
    return { kind: 'retry', error };
  }
}

/** Most messages handed to `handleBatch` at once: big enough to amortise a round trip, small enough to retry. */
export const BATCH_LIMIT = 500;

/**
 * The batch fast path of the rule: true when `handleBatch` took every message (commit them all); false when
 * there is no batch handler or it threw (then each message goes through `decide`). Whatever the batch handler
 * threw is reported through `onError` and otherwise left to the per-message path to surface again.
 */
export async function handledAsBatch(
  handleBatch: ((messages: IncomingMessage[]) => Promise<void>) | undefined,
  messages: IncomingMessage[],
  onError: (error: unknown) => void,
): Promise<boolean> {
  if (!handleBatch || messages.length === 0) return false;
  try {
    await handleBatch(messages);
    return true;
  } catch (error) {
    onError(error);
    return false;
  }
}

/** The dead-letter copy of a poison message: same key, value and headers, plus where it came from and why. */
export function deadLetterOf(message: IncomingMessage, topic: string, reason: string): OutgoingMessage {
  return {
    topic,
    key: message.key ?? '',
    value: message.value?.toString('utf8') ?? '',
    headers: {
      ...message.headers,
      'dlq-reason': reason.slice(0, 1000),
      'dlq-source-topic': message.topic,
      'dlq-source-partition': String(message.partition),
      'dlq-source-offset': message.offset,
      'dlq-failed-at': new Date().toISOString(),
    },
  };
}

export function nextBackoff(
  previousMs: number | undefined,
  retry: { initialMs: number; maxMs: number },
): number {
  return previousMs === undefined ? retry.initialMs : Math.min(previousMs * 2, retry.maxMs);
}

// 200 ms first: a database blip clears quickly; 30 s cap: a longer outage is retried without spinning.
export const DEFAULT_CONSUMER_RETRY = { initialMs: 200, maxMs: 30_000 };
