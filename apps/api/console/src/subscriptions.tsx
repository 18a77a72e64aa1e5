import { useState } from 'preact/hooks';
import { api, type CreatedWebhookDto, type WebhookDto, type WebhookPageDto } from './api';
import { ErrorNote, PageHeading, patterns, SubscriptionFields, useAction, useLoad, When } from './ui';

/** Health in words: what a person needs to know first about an endpoint. */
export function health(w: WebhookDto): string {
  if (w.status === 'disabled') return `Disabled${w.disabledReason ? ` (${w.disabledReason})` : ''}`;
  if (w.consecutiveFailures > 0) return `Failing (${w.consecutiveFailures} in a row)`;
  return 'Healthy';
}

/** Every page of GET /webhooks (a tenant has few subscriptions; 200 per page). */
export async function allSubscriptions(): Promise<WebhookDto[]> {
  const all: WebhookDto[] = [];
  let cursor: string | null = null;
  do {
    const page: WebhookPageDto = await api.get<WebhookPageDto>(
      `/webhooks?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    all.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

function CreateForm({ onCreated }: { onCreated: (w: CreatedWebhookDto) => void }) {
  const [fields, setFields] = useState({ url: '', types: '*', description: '' });
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const created = await api.post<CreatedWebhookDto>('/webhooks', {
        url: fields.url,
        eventTypes: patterns(fields.types),
        ...(fields.description ? { description: fields.description } : {}),
      });
      setFields({ ...fields, url: '', description: '' });
      onCreated(created);
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby="create-heading">
      <h2 id="create-heading">New subscription</h2>
      <SubscriptionFields {...fields} set={(field, value) => setFields({ ...fields, [field]: value })} />
      <button type="submit" aria-busy={busy} disabled={busy}>
        Create subscription
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

export function Subscriptions() {
  const list = useLoad(allSubscriptions, [], 5_000);
  const [created, setCreated] = useState<CreatedWebhookDto>();
  return (
    <>
      <PageHeading>Subscriptions</PageHeading>
      <ErrorNote error={list.error} />
      {created && (
        <div role="status">
          <article aria-labelledby="created-heading">
            <h2 id="created-heading">Subscription created</h2>
            <p>
              <a href={`#/subscriptions/${created.id}`}>{created.url}</a>. Its signing secret is shown only
              now:
            </p>
            <p>
              <code class="secret" aria-label="Signing secret">
                {created.secret}
              </code>
            </p>
          </article>
        </div>
      )}
      <figure>
        <table>
          <caption>Your subscriptions and their health</caption>
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Event types</th>
              <th scope="col">Health</th>
              <th scope="col">Failures in a row</th>
              <th scope="col">Dead letters in a row</th>
              <th scope="col">Last success</th>
              <th scope="col">Failing since</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.map((w) => (
              <tr key={w.id}>
                <th scope="row">
                  <a href={`#/subscriptions/${w.id}`}>{w.description || w.url}</a>
                  {w.description && (
                    <>
                      <br />
                      <small>{w.url}</small>
                    </>
                  )}
                </th>
                <td>{w.eventTypes.join(', ')}</td>
                <td>{health(w)}</td>
                <td>{w.consecutiveFailures}</td>
                <td>{w.consecutiveDeadLetters}</td>
                <td>
                  <When iso={w.lastSuccessAt} />
                </td>
                <td>
                  <When iso={w.failingSince} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data?.length === 0 && <p>No subscriptions yet.</p>}
      </figure>
      <CreateForm
        onCreated={(w) => {
          setCreated(w);
          list.reload();
        }}
      />
    </>
  );
}
