import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText, makeApi, ok } from './api.js';
import './style.css';
import { Failure, type Session } from './ui.js';
import { EventsView } from './views/events.js';
import { ExplainView } from './views/explain.js';
import { NodesView } from './views/nodes.js';
import { OffersView } from './views/offers.js';
import { OverviewView } from './views/overview.js';
import { ServicesView } from './views/services.js';
import { VolumeDetail } from './views/volume-detail.js';
import { VolumesView } from './views/volumes.js';

const TOKEN_KEY = 'polly.token';
const PAGES = [
  ['overview', 'Overview'],
  ['services', 'Services'],
  ['volumes', 'Volumes'],
  ['nodes', 'Nodes'],
  ['offers', 'Offers'],
  ['events', 'Events'],
  ['explain', 'Placement'],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash.replace(/^#\/?/, ''));
  useEffect(() => {
    const on = () => setHash(window.location.hash.replace(/^#\/?/, ''));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSession }: { onSession: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const api = makeApi(token.trim());
      const identity = await ok(api.GET('/v1/identity'));
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      onSession({ api, token: token.trim(), identity });
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <main class="signin">
      <h1>Polly</h1>
      <p>Sign in with the admin token or a service token.</p>
      <form onSubmit={submit}>
        <label>
          Bearer token
          <input name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <Failure error={error} />
    </main>
  );
}

function Page({ session, route }: { session: Session; route: string }) {
  const [page, ...rest] = route.split('/');
  switch (page) {
    case 'services':
      return <ServicesView session={session} />;
    case 'volumes':
      return rest[0] ? <VolumeDetail session={session} id={decodeURIComponent(rest[0])} /> : <VolumesView session={session} />;
    case 'nodes':
      return <NodesView session={session} />;
    case 'offers':
      return <OffersView session={session} />;
    case 'events':
      return <EventsView session={session} />;
    case 'explain':
      return <ExplainView session={session} />;
    default:
      return <OverviewView session={session} />;
  }
}

function App() {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [restoring, setRestoring] = useState(true);
  const route = useHash();
  useEffect(() => {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (!saved) return setRestoring(false);
    const api = makeApi(saved);
    ok(api.GET('/v1/identity'))
      .then((identity) => setSession({ api, token: saved, identity }))
      .catch(() => sessionStorage.removeItem(TOKEN_KEY))
      .finally(() => setRestoring(false));
  }, []);
  if (restoring) return null;
  if (!session) return <SignIn onSession={setSession} />;
  const current = route.split('/')[0] || 'overview';
  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setSession(undefined);
  };
  return (
    <div class="shell">
      <header>
        <strong class="logo">Polly</strong>
        <nav>
          {PAGES.map(([id, title]) => (
            <a key={id} href={`#/${id}`} class={current === id ? 'active' : ''}>
              {title}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="identity">
          {session.identity.kind === 'admin' ? 'admin' : `service ${session.identity.service}`}
        </span>
        <button class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <Page session={session} route={route} />
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
