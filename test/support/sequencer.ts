import type { DataSource } from 'typeorm';

/**
 * Test-only stand-in for the outbox relay's sequencer: gives every committed, unpositioned event the next
 * positions in event_log id order, in one transaction that also advances sequencer_state and the outbox rows
 * (the relay's bookkeeping, minus publishing). Deterministic: tests of the event log API need positions
 * without running a relay. Returns how many events it positioned.
 */
export async function assignPositions(ds: DataSource): Promise<number> {
  return ds.transaction(async (tx) => {
    const [state] = await tx.query<{ last_position: string }[]>(
      'SELECT last_position FROM sequencer_state WHERE id = 1 FOR UPDATE',
    );
    const last = Number(state.last_position);
    const [{ n }] = await tx.query<[{ n: number }]>(
      `WITH next AS (
         SELECT id, $1::bigint + row_number() OVER (ORDER BY id) AS position
           FROM event_log WHERE position IS NULL
       ),
       positioned AS (
         UPDATE event_log e SET position = next.position FROM next WHERE e.id = next.id RETURNING e.id, e.position
       ),
       outboxed AS (
         UPDATE outbox o SET position = p.position FROM positioned p WHERE o.event_log_id = p.id RETURNING 1
       )
       SELECT count(*)::int AS n FROM positioned`,
      [last],
    );
    await tx.query('UPDATE sequencer_state SET last_position = $1 WHERE id = 1', [last + n]);
    return n;
  });
}
