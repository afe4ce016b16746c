import { defineErrors } from '../../shared/errors.js';

export const dashboardErrors = defineErrors({
  DASHBOARD_SESSION_INVALID: {
    status: 401,
    hint: "The dashboard session ended (logged out or expired), or this is the dashboard's own port, which serves the page's calls only: log in on the page with an API token.",
  },
  DASHBOARD_CSRF: {
    status: 403,
    hint: 'State-changing dashboard calls must come from the dashboard page itself (same origin, with its CSRF header); reload the page.',
  },
  DASHBOARD_INSECURE: {
    status: 500,
    hint: 'The dashboard is served on loopback addresses only unless the listener has TLS: bind it to 127.0.0.1 or configure TLS.',
  },
  DASHBOARD_NOT_BUILT: {
    status: 404,
    hint: 'Build the dashboard with `npm run build:web` (it writes dist/web), then restart aiboxd.',
  },
});
