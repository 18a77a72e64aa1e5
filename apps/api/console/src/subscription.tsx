import { useState } from 'preact/hooks';
import { api, type EnabledWebhookDto, type RotatedSecretDto, type TestSentDto, type WebhookDto } from './api';
import { DeliveryLog } from './deliveries';
import { health } from './subscriptions';
import { ErrorNote, PageHeading, patterns, Status, SubscriptionFields, useAction, useLoad, When } from './ui';

function Health({ w }: { w: WebhookDto }) {
  return (
    <dl class="grid">
      <div>
        <dt>Health</dt>
        <dd>{health(w)}</dd>
      </div>
      <div>
        <dt>Failures in a row</dt>
        <dd>{w.consecutiveFailures}</dd>
      </div>
      <div>
        <dt>Dead letters in a row</dt>
        <dd>{w.consecutiveDeadLetters}</dd>
      </div>
      <div>
        <dt>Last success</dt>
        <dd>
          <When iso={w.lastSuccessAt} />
        </dd>
      </div>
      <div>
        <dt>Failing since</dt>
        <dd>
          <When iso={w.failingSince} />
        </dd>
      </div>
      <div>
        <dt>Disabled</dt>
        <dd>
          {w.status === 'disabled' ? (
            <>
              <When iso={w.disabledAt} /> {w.disabledReason ? `(${w.disabledReason})` : ''}
            </>
          ) : (
            'no'
          )}
        </dd>
      </div>
    </dl>
  );
}

function EditForm({ w, onSaved }: { w: WebhookDto; onSaved: () => void }) {
  const [fields, setFields] = useState({
    url: w.url,
    types: w.eventTypes.join(', '),
    description: w.description ?? '',
  });
  const [saved, setSaved] = useState<string>();
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api.patch(`/webhooks/${encodeURIComponent(w.id)}`, {
        url: fields.url,
        eventTypes: patterns(fields.types),
        description: fields.description || null,
      });
      setSaved('Changes saved');
      onSaved();
    });
  };
  return (
    <details>
      <summary>Edit subscription</summary>
      <form onSubmit={submit} aria-label="Edit subscription">
        <SubscriptionFields {...fields} set={(field, value) => setFields({ ...fields, [field]: value })} />
        <button type="submit" aria-busy={busy} disabled={busy}>
          Save changes
        </button>
        <ErrorNote error={error} />
        <Status>{saved}</Status>
      </form>
    </details>
  );
}

/** Re-enabling shows first how many missed deliveries would be replayed (a dry run), then asks. */
function Enable({ w, onChanged }: { w: WebhookDto; onChanged: () => void }) {
  const [dryRun, setDryRun] = useState<EnabledWebhookDto>();
  const [result, setResult] = useState<string>();
  const { busy, error, run } = useAction();
  const path = `/webhooks/${encodeURIComponent(w.id)}/enable`;
  const count = () => run(async () => setDryRun(await api.post<EnabledWebhookDto>(path, { dryRun: true })));
  const enable = (replay: boolean) =>
    run(async () => {
      const done = await api.post<EnabledWebhookDto>(path, { replay });
      setDryRun(undefined);
      setResult(
        replay ? `Enabled; ${done.replayCount} deliveries replayed` : 'Enabled without replaying anything',
      );
      onChanged();
    });
  return (
    <section aria-labelledby="enable-heading">
      <h2 id="enable-heading">Re-enable</h2>
      {!dryRun ? (
        <button type="button" aria-busy={busy} disabled={busy} onClick={() => void count()}>
          Enable…
        </button>
      ) : (
        <>
          <p role="status">
            {dryRun.replayCount} deliveries would be replayed
            {dryRun.replayFrom ? (
              <>
                {' '}
                (missed since <When iso={dryRun.replayFrom} />)
              </>
            ) : null}
            .
          </p>
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void enable(true)}>
              Enable and replay {dryRun.replayCount}
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => void enable(false)}>
              Enable without replay
            </button>
            <button type="button" class="secondary outline" onClick={() => setDryRun(undefined)}>
              Cancel
            </button>
          </div>
        </>
      )}
      <ErrorNote error={error} />
      <Status>{result}</Status>
    </section>
  );
}

function Actions({ w, onChanged }: { w: WebhookDto; onChanged: () => void }) {
  const [message, setMessage] = useState<string>();
  const [secret, setSecret] = useState<RotatedSecretDto>();
  const { busy, error, run } = useAction();
  const id = encodeURIComponent(w.id);
  const rotate = () =>
    run(async () => {
      const rotated = await api.post<RotatedSecretDto>(`/webhooks/${id}/rotate-secret`);
      setSecret(rotated);
      setMessage(undefined);
      onChanged();
    });
  const sendTest = () =>
    run(async () => {
      const sent = await api.post<TestSentDto>(`/webhooks/${id}/test`, { message: 'Sent from the console' });
      setMessage(`Test event ${sent.eventId} sent`);
      onChanged();
    });
  const disable = () =>
    run(async () => {
      await api.patch(`/webhooks/${id}`, { status: 'disabled' });
      setMessage('Subscription disabled');
      onChanged();
    });
  return (
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <div class="actions">
        <button type="button" disabled={busy || w.status === 'disabled'} onClick={() => void sendTest()}>
          Send test event
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => void rotate()}>
          Rotate secret
        </button>
        {w.status === 'active' && (
          <button type="button" class="secondary outline" disabled={busy} onClick={() => void disable()}>
            Disable
          </button>
        )}
      </div>
      <ErrorNote error={error} />
      <Status>{message}</Status>
      {secret && (
        <p role="status">
          New signing secret (shown only now):{' '}
          <code class="secret" aria-label="New signing secret">
            {secret.secret}
          </code>
          . The previous one keeps signing until <When iso={secret.previousSecretExpiresAt} />.
        </p>
      )}
    </section>
  );
}

export function Subscription({ id }: { id: string }) {
  const sub = useLoad(() => api.get<WebhookDto>(`/webhooks/${encodeURIComponent(id)}`), [id], 3_000);
  const w = sub.data;
  return (
    <>
      <p>
        <a href="#/subscriptions">← All subscriptions</a>
      </p>
      <PageHeading>{w ? w.description || w.url : 'Subscription'}</PageHeading>
      <ErrorNote error={sub.error} />
      {w && (
        <>
          <p>
            <code>{w.id}</code> → <code>{w.url}</code>, event types <code>{w.eventTypes.join(', ')}</code>
          </p>
          <Health w={w} />
          <Actions w={w} onChanged={sub.reload} />
          {w.status === 'disabled' && <Enable w={w} onChanged={sub.reload} />}
          <EditForm key={w.version} w={w} onSaved={sub.reload} />
          <DeliveryLog subscriptionId={w.id} />
        </>
      )}
    </>
  );
}
