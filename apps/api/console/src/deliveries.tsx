import { useState } from 'preact/hooks';
import { api, query, type DeliveryDetailDto, type DeliveryDto, type DeliveryPageDto } from './api';
import { ErrorNote, Status, useAction, useLoad, When } from './ui';

const STATUSES = ['pending', 'failed', 'succeeded', 'dead'] as const;
// The log refreshes this often while open: new deliveries and attempts appear without a reload.
const REFRESH_MS = 1_500;

function Attempts({ delivery }: { delivery: DeliveryDto }) {
  // Reloads when the row changes (a new attempt updates the delivery).
  const detail = useLoad(
    () => api.get<DeliveryDetailDto>(`/deliveries/${encodeURIComponent(delivery.id)}`),
    [delivery.id, delivery.updatedAt],
  );
  return (
    <>
      <ErrorNote error={detail.error} />
      <table>
        <caption>
          Attempts of {delivery.eventType} ({delivery.eventId})
        </caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">At</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
            <th scope="col">Response (start)</th>
            <th scope="col">Error</th>
            <th scope="col">Next attempt</th>
          </tr>
        </thead>
        <tbody>
          {detail.data?.attempts.map((a) => (
            <tr key={a.attemptNumber}>
              <td>{a.attemptNumber}</td>
              <td>
                <When iso={a.attemptedAt} />
              </td>
              <td>{a.statusCode ?? 'no response'}</td>
              <td>{a.durationMs} ms</td>
              <td>
                <code>{a.responseBody ?? ''}</code>
              </td>
              <td>{a.error ?? ''}</td>
              <td>
                <When iso={a.nextAttemptAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {detail.data?.attempts.length === 0 && <p>Not attempted yet.</p>}
    </>
  );
}

function Row({ d, onChanged }: { d: DeliveryDto; onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  const [done, setDone] = useState<string>();
  const { busy, error, run } = useAction();
  const redeliver = () =>
    run(async () => {
      await api.post(`/deliveries/${encodeURIComponent(d.id)}/retry`);
      setDone(`Delivery of ${d.eventType} scheduled again`);
      onChanged();
    });
  const detailId = `attempts-${d.id}`;
  return (
    <>
      <tr data-delivery={d.id}>
        <td>{d.eventType}</td>
        <td>{d.resourceId}</td>
        <td>{d.status}</td>
        <td>{d.attemptCount}</td>
        <td>{d.lastStatusCode ?? (d.lastError ? 'no response' : '—')}</td>
        <td>
          <When iso={d.lastAttemptAt} />
        </td>
        <td>
          <When iso={d.nextAttemptAt} />
        </td>
        <td>
          <div class="actions">
            <button
              type="button"
              class="secondary outline"
              aria-expanded={open}
              aria-controls={detailId}
              onClick={() => setOpen(!open)}
            >
              Attempts
              <span class="visually-hidden">
                {' '}
                of {d.eventType} {d.eventId}
              </span>
            </button>
            <button
              type="button"
              class="outline"
              aria-busy={busy}
              disabled={busy || d.status === 'pending'}
              onClick={() => void redeliver()}
            >
              Redeliver
              <span class="visually-hidden">
                {' '}
                {d.eventType} {d.eventId}
              </span>
            </button>
          </div>
        </td>
      </tr>
      {(open || error || done) && (
        <tr id={detailId}>
          <td colSpan={8}>
            <ErrorNote error={error} />
            <Status>{done}</Status>
            {open && <Attempts delivery={d} />}
          </td>
        </tr>
      )}
    </>
  );
}

/** A subscription's delivery log, newest event first, refreshed while it is on screen. */
export function DeliveryLog({ subscriptionId }: { subscriptionId: string }) {
  const [status, setStatus] = useState('');
  const log = useLoad(
    () =>
      api.get<DeliveryPageDto>(
        `/webhooks/${encodeURIComponent(subscriptionId)}/deliveries${query({ status, limit: 50 })}`,
      ),
    [subscriptionId, status],
    REFRESH_MS,
  );
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Delivery log</h2>
      <label for="delivery-status">Show deliveries</label>
      <select
        id="delivery-status"
        name="status"
        value={status}
        onChange={(e) => setStatus(e.currentTarget.value)}
      >
        <option value="">All</option>
        {STATUSES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>

      <ErrorNote error={log.error} />
      <figure>
        <table aria-describedby="log-help">
          <caption>Deliveries of this subscription, newest event first</caption>
          <thead>
            <tr>
              <th scope="col">Event type</th>
              <th scope="col">Resource</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last status</th>
              <th scope="col">Last attempt</th>
              <th scope="col">Next attempt</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {log.data?.data.map((d) => (
              <Row key={d.id} d={d} onChanged={log.reload} />
            ))}
          </tbody>
        </table>
      </figure>
      <p id="log-help">
        <small>Updates on its own every {REFRESH_MS / 1000} s. The latest 50 deliveries are shown.</small>
      </p>
      {log.data?.data.length === 0 && <p>No deliveries yet.</p>}
    </section>
  );
}
