import { api, type EventTypeListDto } from './api';
import { ErrorNote, Json, PageHeading, useLoad } from './ui';

/** Every event type with every version's JSON Schema and example (GET /event-types). */
export function Catalogue() {
  const list = useLoad(() => api.get<EventTypeListDto>('/event-types'), []);
  return (
    <>
      <PageHeading>Event catalogue</PageHeading>
      <ErrorNote error={list.error} />
      {list.data?.data.map((t) => (
        <article key={t.type} aria-labelledby={`type-${t.type}`}>
          <header>
            <h2 id={`type-${t.type}`}>{t.type}</h2>
            <p>
              {t.description} Latest version: {t.latestVersion}.
            </p>
          </header>
          {[...t.versions].reverse().map((v) => (
            <details key={v.version} open={v.version === t.latestVersion}>
              <summary>
                {t.type} v{v.version}
                {v.deprecated ? ' (deprecated)' : ''}
                {v.sunset ? `, sunset ${v.sunset}` : ''}
              </summary>
              <p>{v.description}</p>
              <div class="grid">
                <section>
                  <h3>JSON Schema</h3>
                  <Json value={v.jsonSchema} label={`JSON Schema of ${t.type} v${v.version}`} />
                </section>
                <section>
                  <h3>Example</h3>
                  <Json value={v.example} label={`Example of ${t.type} v${v.version}`} />
                </section>
              </div>
            </details>
          ))}
        </article>
      ))}
    </>
  );
}
