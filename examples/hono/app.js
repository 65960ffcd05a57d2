// A Hono app behind edge-session: every /api/* route needs a valid identity assertion, and
// handlers read who is calling from `c.get('identity')`. Deploy it as the edge's upstream
// (UPSTREAM, or the UPSTREAM_SERVICE binding) and set the vars below; see README.md
// ("In front of a Hono app").
//
//   EDGE_JWKS_URL   the edge's key set, e.g. https://app.example.com/auth/jwks
//   EDGE_ISSUER     the edge's ASSERTION_ISSUER (default edge-session)
//   EDGE_AUDIENCE   this app's origin as the edge's UPSTREAM names it
import { Hono } from 'hono';
import { edgeIdentity } from './edge-identity.js';

export function createApp({ jwks, jwksUrl, jwksOptions, issuer, audience } = {}) {
  const app = new Hono();
  app.get('/', (c) => c.text('public'));
  app.use('/api/*', edgeIdentity({ jwks, jwksUrl, jwksOptions, issuer, audience }));
  app.get('/api/me', (c) => {
    const { subject, session, roles, amr } = c.get('identity');
    return c.json({ subject, session, roles, amr });
  });
  app.get('/api/admin', (c) =>
    c.get('identity').roles.includes('admin') ? c.json({ ok: true }) : c.json({ error: 'forbidden' }, 403),
  );
  return app;
}

// As a Worker: the app is built once per isolate from its vars.
let app;
export default {
  fetch(request, env, ctx) {
    app ??= createApp({
      jwksUrl: env.EDGE_JWKS_URL,
      issuer: env.EDGE_ISSUER,
      audience: env.EDGE_AUDIENCE,
    });
    return app.fetch(request, env, ctx);
  },
};
