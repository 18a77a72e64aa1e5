import { useEffect, useRef, useState } from 'preact/hooks';
import { api, consoleConfig, query, type EventTypeListDto, type StreamTokenDto } from './api';
import { ErrorNote, Field, PageHeading, patterns, Status, useAction, useLoad, When } from './ui';

interface Frame {
  position: string;
  eventType: string;
  envelope: { eventId: string; resourceId: string; timestamp: string; data: unknown };
}

// The last position seen, per tab: a reconnect (even after a reload or a filter change) resumes after it.
const LAST_ID_ITEM = 'tidings.console.lastEventId';
// Enough to read what just happened; older frames are in GET /events.
const MAX_FRAMES = 200;

type State = 'closed' | 'connecting' | 'open' | 'reconnecting';

export function LiveStream() {
  const catalogue = useLoad(() => api.get<EventTypeListDto>('/event-types'), []);
  const [types, setTypes] = useState('*');
  const [resourceId, setResourceId] = useState('');
  const [frames, setFrames] = useState<Frame[]>([]);
  const [state, setState] = useState<State>('closed');
  const [notice, setNotice] = useState<string>();
  const source = useRef<EventSource | undefined>(undefined);
  const { busy, error, run } = useAction();

  const close = () => {
    source.current?.close();
    source.current = undefined;
    setState('closed');
  };
  useEffect(() => close, []);

  const connect = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      close();
      const eventTypes = patterns(types);
      const [{ streamUrl }, { token }] = await Promise.all([
        consoleConfig(),
        api.post<StreamTokenDto>('/stream-tokens', { eventTypes }),
      ]);
      const lastEventId = sessionStorage.getItem(LAST_ID_ITEM) ?? undefined;
      const es = new EventSource(
        `${streamUrl}/events/stream${query({
          types: eventTypes.join(','),
          resourceId: resourceId.trim(),
          access_token: token,
          lastEventId,
        })}`,
      );
      source.current = es;
      setState('connecting');
      setNotice(lastEventId ? `Resuming after position ${lastEventId}` : undefined);
      es.onopen = () => setState('open');
      es.onerror = () => setState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
      const onFrame = (m: MessageEvent<string>) => {
        sessionStorage.setItem(LAST_ID_ITEM, m.lastEventId);
        const frame: Frame = { position: m.lastEventId, eventType: m.type, envelope: JSON.parse(m.data) };
        setFrames((all) => [frame, ...all].slice(0, MAX_FRAMES));
      };
      // SSE frames are named by event type: EventSource delivers a named frame only to its listeners.
      for (const t of catalogue.data?.data ?? []) es.addEventListener(t.type, onFrame);
      es.addEventListener('reset', (m: MessageEvent<string>) => {
        sessionStorage.setItem(LAST_ID_ITEM, m.lastEventId);
        setNotice(`The stream could not resume from the last position (${m.data}); continuing live.`);
      });
    });
  };

  return (
    <>
      <PageHeading>Live stream</PageHeading>
      <form onSubmit={connect} aria-labelledby="filter-heading">
        <h2 id="filter-heading">Filter</h2>
        <div class="grid">
          <Field
            label="Event types"
            name="types"
            required
            help="Comma-separated: order.*, message.received or *"
            value={types}
            onInput={setTypes}
          />
          <Field
            label="Resource ID"
            name="resourceId"
            placeholder="(any)"
            value={resourceId}
            onInput={setResourceId}
          />
        </div>
        <div class="actions">
          <button type="submit" aria-busy={busy} disabled={busy || !catalogue.data}>
            {state === 'closed' ? 'Connect' : 'Reconnect with this filter'}
          </button>
          {state !== 'closed' && (
            <button type="button" class="secondary" onClick={close}>
              Disconnect
            </button>
          )}
        </div>
      </form>
      <ErrorNote error={error ?? catalogue.error} />
      <Status>Stream {state}</Status>
      {notice && <p role="status">{notice}</p>}
      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Events, newest first</h2>
        <div role="log" aria-label="Streamed events">
          <ol reversed>
            {frames.map((f) => (
              <li key={f.position} data-position={f.position}>
                <details>
                  <summary>
                    #{f.position} <strong>{f.eventType}</strong> {f.envelope.resourceId} ·{' '}
                    <When iso={f.envelope.timestamp} />
                  </summary>
                  <pre>
                    <code>{JSON.stringify(f.envelope, null, 2)}</code>
                  </pre>
                </details>
              </li>
            ))}
          </ol>
        </div>
      </section>
    </>
  );
}
