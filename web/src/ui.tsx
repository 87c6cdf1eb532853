import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorText, type Api, type Schemas } from './api.js';

export interface Session {
  api: Api;
  token: string;
  identity: Schemas['Identity'];
}

/** Loads data for a view; `reload()` fetches again (after an action). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/** Runs an action, showing its error (or a success note) in the page's message line. */
export function useAction(): { run: (what: () => Promise<unknown>, done?: string) => Promise<boolean>; message: ComponentChildren } {
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>(undefined);
  const run = async (what: () => Promise<unknown>, done?: string) => {
    try {
      await what();
      setMessage(done ? { kind: 'ok', text: done } : undefined);
      return true;
    } catch (e) {
      setMessage({ kind: 'error', text: errorText(e) });
      return false;
    }
  };
  return {
    run,
    message: message ? (
      <p class={`message ${message.kind}`} role={message.kind === 'error' ? 'alert' : 'status'}>
        {message.text}
      </p>
    ) : null,
  };
}

export function Failure({ error }: { error: string | undefined }) {
  return error ? (
    <p class="message error" role="alert">
      {error}
    </p>
  ) : null;
}

/** A horizontal bar: `value` of `max`, red past `warnAt` (a fraction). */
export function Bar({ value, max, label, warnAt = 0.9 }: { value: number; max: number | null; label: string; warnAt?: number }) {
  const fraction = max && max > 0 ? value / max : 0;
  return (
    <div class="bar" title={label} aria-label={label}>
      <div class={`fill ${fraction >= warnAt ? 'warn' : ''}`} style={{ width: `${Math.min(100, fraction * 100)}%` }} />
      <span>{label}</span>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}
