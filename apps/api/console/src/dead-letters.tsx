import { useState } from 'preact/hooks';
import { api, query, type CountDto, type DeliveryPageDto } from './api';
import { allSubscriptions } from './subscriptions';
import { ErrorNote, Field, isoFromLocal, PageHeading, Status, useAction, useLoad, When } from './ui';

interface Filter {
  subscriptionId: string;
  eventType: string;
  since: string;
  until: string;
}

const EMPTY: Filter = { subscriptionId: '', eventType: '', since: '', until: '' };

/** The filter as the API takes it (empty fields left out; local times as ISO timestamps). */
function replayBody(f: Filter) {
  return {
    ...(f.subscriptionId ? { subscriptionId: f.subscriptionId } : {}),
    ...(f.eventType ? { eventType: f.eventType.trim() } : {}),
    ...(f.since ? { since: isoFromLocal(f.since) } : {}),
    ...(f.until ? { until: isoFromLocal(f.until) } : {}),
  };
}

function ReplayOne({ id, eventType, onDone }: { id: string; eventType: string; onDone: () => void }) {
  const { busy, error, run } = useAction();
  return (
    <>
      <button
        type="button"
        class="outline"
        aria-busy={busy}
        disabled={busy}
        onClick={() =>
          void run(async () => {
            await api.post(`/dead-letters/${encodeURIComponent(id)}/replay`);
            onDone();
          })
        }
      >
        Replay
        <span class="visually-hidden">
          {' '}
          {eventType} {id}
        </span>
      </button>
      <ErrorNote error={error} />
    </>
  );
}

export function DeadLetters() {
  const subs = useLoad(allSubscriptions, []);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [count, setCount] = useState<number>();
  const [result, setResult] = useState<string>();
  const { busy, error, run } = useAction();
  const list = useLoad(
    () =>
      api.get<DeliveryPageDto>(
        `/dead-letters${query({
          subscriptionId: filter.subscriptionId,
          eventType: filter.eventType.trim(),
          limit: 100,
        })}`,
      ),
    [filter.subscriptionId, filter.eventType],
    3_000,
  );
  const set = (field: keyof Filter) => (value: string) => {
    setFilter({ ...filter, [field]: value });
    setCount(undefined);
  };
  const dryRun = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      setResult(undefined);
      const res = await api.post<CountDto>('/dead-letters/replay', { ...replayBody(filter), dryRun: true });
      setCount(res.count);
    });
  };
  const replay = () =>
    run(async () => {
      const res = await api.post<CountDto>('/dead-letters/replay', replayBody(filter));
      setCount(undefined);
      setResult(`${res.count} dead letters replayed`);
      list.reload();
    });
  const since = isoFromLocal(filter.since);
  const until = isoFromLocal(filter.until);
  const shown = list.data?.data.filter(
    (d) => d.deadAt !== null && (!since || d.deadAt >= since) && (!until || d.deadAt < until),
  );
  const subName = (id: string) => {
    const w = subs.data?.find((s) => s.id === id);
    return w ? w.description || w.url : id;
  };
  return (
    <>
      <PageHeading>Dead letters</PageHeading>
      <p>
        Deliveries that exhausted their retry schedule. Replaying gives each a fresh schedule, same bytes.
      </p>
      <form onSubmit={dryRun} aria-labelledby="replay-heading">
        <h2 id="replay-heading">Replay by filter</h2>
        <div class="grid">
          <div>
            <label for="dead-letter-subscription">Subscription</label>
            <select
              id="dead-letter-subscription"
              name="subscriptionId"
              value={filter.subscriptionId}
              onChange={(e) => set('subscriptionId')(e.currentTarget.value)}
            >
              <option value="">All subscriptions</option>
              {subs.data?.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.description || s.url}
                </option>
              ))}
            </select>
          </div>
          <Field
            label="Event type"
            name="eventType"
            placeholder="order.* (empty: all)"
            value={filter.eventType}
            onInput={set('eventType')}
          />
        </div>
        <div class="grid">
          <Field
            label="Died since"
            name="since"
            type="datetime-local"
            value={filter.since}
            onInput={set('since')}
          />
          <Field
            label="Died before"
            name="until"
            type="datetime-local"
            value={filter.until}
            onInput={set('until')}
          />
        </div>
        <div class="actions">
          <button type="submit" aria-busy={busy} disabled={busy}>
            Count matching
          </button>
          {count !== undefined && (
            <button type="button" disabled={busy || count === 0} onClick={() => void replay()}>
              Replay {count} dead letters
            </button>
          )}
        </div>
        <Status>
          {count !== undefined ? `${count} dead letters match (dry run: nothing replayed yet)` : result}
        </Status>
        <ErrorNote error={error} />
      </form>
      <ErrorNote error={list.error} />
      <figure>
        <table>
          <caption>Dead letters matching the filter, newest event first</caption>
          <thead>
            <tr>
              <th scope="col">Event type</th>
              <th scope="col">Subscription</th>
              <th scope="col">Resource</th>
              <th scope="col">Died</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown?.map((d) => (
              <tr key={d.id} data-dead-letter={d.id}>
                <td>{d.eventType}</td>
                <td>
                  <a href={`#/subscriptions/${d.subscriptionId}`}>{subName(d.subscriptionId)}</a>
                </td>
                <td>{d.resourceId}</td>
                <td>
                  <When iso={d.deadAt} />
                </td>
                <td>{d.attemptCount}</td>
                <td>{d.lastStatusCode ?? d.lastError ?? ''}</td>
                <td>
                  <ReplayOne id={d.id} eventType={d.eventType} onDone={list.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
      {shown?.length === 0 && <p>No dead letters match.</p>}
    </>
  );
}
