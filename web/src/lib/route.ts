import { useEffect, useState } from 'react';

export type Route =
  | { page: 'sandboxes' }
  | { page: 'sandbox'; name: string }
  | { page: 'terminal'; name: string }
  | { page: 'pushes' }
  | { page: 'push'; id: string }
  | { page: 'decisions' }
  | { page: 'decision'; id: string }
  | { page: 'audit'; sandbox?: string }
  | { page: 'usage' };

/** Hash routes (#/pushes/push_…): the daemon serves one index.html, and nothing about a route reaches a log. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [page, arg] = parts;
  switch (page) {
    case 'sandboxes':
      return arg ? { page: 'sandbox', name: arg } : { page: 'sandboxes' };
    case 'terminal':
      return arg ? { page: 'terminal', name: arg } : { page: 'sandboxes' };
    case 'pushes':
      return arg ? { page: 'push', id: arg } : { page: 'pushes' };
    case 'decisions':
      return arg ? { page: 'decision', id: arg } : { page: 'decisions' };
    case 'audit':
      return arg ? { page: 'audit', sandbox: arg } : { page: 'audit' };
    case 'usage':
      return { page: 'usage' };
    case undefined:
    default:
      return { page: 'sandboxes' };
  }
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
