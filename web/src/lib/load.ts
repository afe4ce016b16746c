import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { Api, ApiError } from './api.js';

export const ApiContext = createContext<Api>(new Api());
export const useApi = (): Api => useContext(ApiContext);

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `fn` now and whenever `deps` change or `reload` is called; keeps the last data while reloading. */
export function useLoad<T>(fn: (api: Api) => Promise<T>, deps: unknown[]): Loaded<T> {
  const api = useApi();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useCallback(fn, deps);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    run(api).then(
      (d) => {
        if (!alive) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!alive) return;
        setError(asApiError(e));
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [api, run, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError
    ? e
    : new ApiError(0, 'DASHBOARD_ERROR', e instanceof Error ? e.message : String(e), 'Reload the page.');
}
