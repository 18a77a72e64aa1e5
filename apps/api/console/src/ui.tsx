import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  reload: () => void;
}

/** Loads on mount and when `deps` change; `refreshMs` polls (the delivery log is watched live this way). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && (setData(value), setError(undefined)),
      (e: unknown) => live && setError(e instanceof Error ? e : new Error(String(e))),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);
  return { data, error, reload };
}

/** Runs one user action at a time: `busy` disables its button, the outcome is announced. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      {error.message}
    </p>
  );
}

/** A status line read out by screen readers when it changes. */
export function Status({ children }: { children?: ComponentChildren }) {
  return (
    <p role="status" class="status">
      {children}
    </p>
  );
}

export function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span aria-label="never">—</span>;
  return <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;
}

/** The page's h1, focused when the page opens so keyboard and screen-reader users start at its top. */
export function PageHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre aria-label={label} tabIndex={0}>
      <code>{JSON.stringify(value, null, 2)}</code>
    </pre>
  );
}

/** "order.*, message.received" → ["order.*", "message.received"] */
export function patterns(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A datetime-local value (the browser's local time) as an ISO timestamp, or undefined when empty. */
export function isoFromLocal(value: string): string | undefined {
  return value ? new Date(value).toISOString() : undefined;
}

export interface FieldProps {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  type?: 'text' | 'url' | 'password' | 'datetime-local';
  required?: boolean;
  placeholder?: string;
  /** A hint under the field, read out with it (aria-describedby). */
  help?: string;
}

/** One labelled input: the label wraps it (so it is its accessible name) and the hint describes it. */
export function Field({
  label,
  name,
  value,
  onInput,
  type = 'text',
  required,
  placeholder,
  help,
}: FieldProps) {
  const helpId = help ? `${name}-help` : undefined;
  return (
    <label>
      {label}
      <input
        name={name}
        // Preact types each input type on its own; all of these take the same attributes here.
        type={type as 'text'}
        required={required}
        placeholder={placeholder}
        autocomplete="off"
        step={type === 'datetime-local' ? 1 : undefined}
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
        aria-describedby={helpId}
      />
      {help && <small id={helpId}>{help}</small>}
    </label>
  );
}

/** URL, event types and description: the fields a subscription is created and edited with. */
export function SubscriptionFields(props: {
  url: string;
  types: string;
  description: string;
  set: (field: 'url' | 'types' | 'description', value: string) => void;
}) {
  return (
    <>
      <div class="grid">
        <Field
          label="Endpoint URL"
          name="url"
          type="url"
          required
          placeholder="https://example.com/webhooks"
          value={props.url}
          onInput={(v) => props.set('url', v)}
        />
        <Field
          label="Event types"
          name="eventTypes"
          required
          help="Comma-separated: order.created, order.* or *"
          value={props.types}
          onInput={(v) => props.set('types', v)}
        />
      </div>
      <Field
        label="Description"
        name="description"
        value={props.description}
        onInput={(v) => props.set('description', v)}
      />
    </>
  );
}
