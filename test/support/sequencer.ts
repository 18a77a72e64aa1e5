import type { DataSource } from 'typeorm';

/**
 * Test-only stand-in for the outbox relay's sequencer: gives every committed, unpositioned event the next
 * positions in event_log id order, in one transaction that also advances sequencer_state and the outbox rows
 * (exactly the bookkeeping the relay does, minus publishing). Deterministic: tests that exercise the event log
 * API need positions without running a relay. Returns how many events it positioned.
 */
export async function assignPositions(ds: DataSource): Promise<number> {
  return ds.transaction(async (tx) => {
    const [state] = (await tx.query('SELECT last_position FROM sequencer_state WHERE id = 1 FOR UPDATE')) as {
      last_position: string;
    }[];
    const last = Number(state!.last_position);
    const rows = (await tx.query(
      `WITH next AS (
         SELECT id, $1::bigint + row_number() OVER (ORDER BY id) AS position
           FROM event_log WHERE position IS NULL
       )
       UPDATE event_log e SET position = next.position FROM next WHERE e.id = next.id
       RETURNING e.id, e.position`,
      [last],
    )) as [unknown[], number] | unknown[];
    // TypeORM returns [rows, affected] for UPDATE … RETURNING on postgres.
    const updated = Array.isArray(rows[0]) ? (rows[0] as unknown[]) : (rows as unknown[]);
    await tx.query(
      `UPDATE outbox o SET position = e.position FROM event_log e
        WHERE o.event_log_id = e.id AND o.position IS NULL AND e.position IS NOT NULL`,
    );
    await tx.query('UPDATE sequencer_state SET last_position = $1 WHERE id = 1', [last + updated.length]);
    return updated.length;
  });
}
