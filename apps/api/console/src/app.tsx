import { useEffect, useState } from 'preact/hooks';
import { api, signIn, signOut, SIGNED_OUT, storedKey } from './api';
import { Catalogue } from './catalogue';
import { DeadLetters } from './dead-letters';
import { LiveStream } from './stream';
import { Subscription } from './subscription';
import { Subscriptions } from './subscriptions';
import { ErrorNote, Field, PageHeading, useAction } from './ui';

const PAGES = [
  { path: 'subscriptions', title: 'Subscriptions' },
  { path: 'dead-letters', title: 'Dead letters' },
  { path: 'stream', title: 'Live stream' },
  { path: 'catalogue', title: 'Event catalogue' },
] as const;

/** The page named by the URL fragment: #/subscriptions, #/subscriptions/<id>, #/dead-letters, … */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api.check(key.trim());
      signIn(key.trim());
      onSignedIn();
    });
  };
  return (
    <main class="container narrow">
      <PageHeading>Tidings console</PageHeading>
      {notice && <p role="alert">{notice}</p>}
      <form onSubmit={submit} aria-label="Sign in">
        <Field
          label="API key"
          name="apiKey"
          type="password"
          required
          placeholder="tdk_…"
          help="Kept in this tab only (sessionStorage) and sent as a Bearer token to this API."
          value={key}
          onInput={setKey}
        />
        <button type="submit" aria-busy={busy} disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorNote error={error} />
    </main>
  );
}

export function App() {
  const [key, setKey] = useState(storedKey());
  const [notice, setNotice] = useState<string>();
  const route = useRoute();
  useEffect(() => {
    const onSignedOut = (e: Event) => {
      setNotice((e as CustomEvent<string | undefined>).detail);
      setKey(null);
    };
    window.addEventListener(SIGNED_OUT, onSignedOut);
    return () => window.removeEventListener(SIGNED_OUT, onSignedOut);
  }, []);

  if (!key)
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          setNotice(undefined);
          setKey(storedKey());
        }}
      />
    );

  const [section = 'subscriptions', id] = route;
  const page =
    section === 'subscriptions' && id ? (
      <Subscription key={id} id={id} />
    ) : section === 'dead-letters' ? (
      <DeadLetters />
    ) : section === 'stream' ? (
      <LiveStream />
    ) : section === 'catalogue' ? (
      <Catalogue />
    ) : (
      <Subscriptions />
    );
  return (
    <>
      <header class="container">
        <nav aria-label="Console">
          <ul>
            <li>
              <strong>Tidings</strong>
            </li>
          </ul>
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={section === p.path ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
            <li>
              <button type="button" class="secondary outline" onClick={() => signOut()}>
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main class="container" id="main">
        {page}
      </main>
    </>
  );
}
