import { Api } from '../lib/api.js';

export interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

type Answer = { status?: number; body: unknown } | ((call: Call) => { status?: number; body: unknown });

/** An Api over a scripted fetch: "METHOD /path" (query included) → answer; records every call. */
export function fakeApi(routes: Record<string, Answer>): { api: Api; calls: Call[] } {
  const calls: Call[] = [];
  const api = new Api(async (input, init) => {
    const call: Call = {
      method: init?.method ?? 'GET',
      path: input,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
    };
    calls.push(call);
    const route = routes[`${call.method} ${input}`] ?? routes[`${call.method} ${input.split('?')[0]}`];
    const answer = typeof route === 'function' ? route(call) : route;
    if (!answer)
      return new Response(JSON.stringify({ error: { code: 'NOT_SCRIPTED', message: input, hint: '' } }), {
        status: 404,
      });
    return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200 });
  });
  return { api, calls };
}

export const apiError = (status: number, code: string, message: string, hint = 'do something') => ({
  status,
  body: { error: { code, message, hint } },
});
