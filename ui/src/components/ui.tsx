// Shared pieces: error banners that stay until the next attempt, labelled fields whose error is
// tied to the input (aria-describedby), dialogs on the native <dialog> (focus trap, Escape), code
// blocks with a Copy button.
import { Fragment, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../api.ts';

export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  const message = e ? e.message : error instanceof Error ? error.message : typeof error === 'string' ? error : 'something went wrong';
  const example = e?.example === undefined ? undefined : Array.isArray(e.example) ? e.example.join('; ') : typeof e.example === 'string' ? e.example : JSON.stringify(e.example);
  return (
    <div className="banner banner-error" role="alert">
      {title ? <strong>{title}</strong> : null}
      <p>{message}</p>
      {example ? <p className="muted">Example: <code>{example}</code></p> : null}
      {e ? <p className="code-tag">{e.code}{e.field ? ` · ${e.field}` : ''}</p> : null}
    </div>
  );
}

export function Field(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  error?: string | undefined;
  hint?: ReactNode;
  type?: string;
  placeholder?: string;
  required?: boolean;
  autoFocus?: boolean;
  autoComplete?: string;
  multiline?: boolean;
  /** id of a <datalist> of suggestions. */
  list?: string;
}) {
  const id = useId();
  const describedBy = [props.hint ? `${id}-hint` : '', props.error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    value: props.value,
    'aria-invalid': props.error ? true : undefined,
    'aria-describedby': describedBy,
    placeholder: props.placeholder,
    required: props.required,
    autoFocus: props.autoFocus,
  };
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...common} rows={6} spellCheck={false} onChange={(e) => props.onChange(e.target.value)} />
      ) : (
        <input {...common} list={props.list} type={props.type ?? 'text'} autoComplete={props.autoComplete ?? 'off'} spellCheck={false} onChange={(e) => props.onChange(e.target.value)} />
      )}
      {props.hint ? <p className="hint" id={`${id}-hint`}>{props.hint}</p> : null}
      {props.error ? <p className="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}

export function Select(props: { label: string; value: string; onChange: (v: string) => void; options: { value: string; label: string }[]; error?: string | undefined; hint?: ReactNode }) {
  const id = useId();
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} aria-invalid={props.error ? true : undefined} aria-describedby={props.error ? `${id}-error` : props.hint ? `${id}-hint` : undefined} onChange={(e) => props.onChange(e.target.value)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint ? <p className="hint" id={`${id}-hint`}>{props.hint}</p> : null}
      {props.error ? <p className="field-error" id={`${id}-error`}>{props.error}</p> : null}
    </div>
  );
}

/** A set of radio buttons under one legend. */
export function Choice<T extends string>(props: { legend: string; value: T; onChange: (v: T) => void; options: { value: T; label: string; hint?: string }[] }) {
  const name = useId();
  return (
    <fieldset className="choice">
      <legend>{props.legend}</legend>
      {props.options.map((o) => (
        <label key={o.value} className="choice-option">
          <input type="radio" name={name} value={o.value} checked={props.value === o.value} onChange={() => props.onChange(o.value)} />
          <span>
            {o.label}
            {o.hint ? <span className="muted"> — {o.hint}</span> : null}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export function Modal({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    // React focused an autoFocus child at mount; showModal would move focus to the dialog's first
    // control (the Close button), so the child gets it back.
    const wanted = d.contains(document.activeElement) ? (document.activeElement as HTMLElement) : d.querySelector<HTMLElement>('.modal-body input, .modal-body select, .modal-body textarea');
    if (!d.open) d.showModal();
    wanted?.focus();
    return () => d.close();
  }, []);
  return (
    <dialog ref={ref} className={`modal${wide ? ' modal-wide' : ''}`} aria-labelledby={titleId} onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <header className="modal-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="btn btn-ghost" aria-label="Close" onClick={onClose}>
          ✕
        </button>
      </header>
      <div className="modal-body">{children}</div>
    </dialog>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
    window.setTimeout(() => setState('idle'), 2000);
  };
  return (
    <button type="button" className="btn btn-small" aria-label={label === 'Copy' ? undefined : label} onClick={() => void copy()}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy' : 'Copy'}
    </button>
  );
}

export function CodeBlock({ label, code }: { label: string; code: string }) {
  return (
    <figure className="code">
      <figcaption>
        <span>{label}</span>
        <CopyButton text={code} label={`Copy ${label}`} />
      </figcaption>
      <pre aria-label={label} tabIndex={0}>
        <code>{code}</code>
      </pre>
    </figure>
  );
}

/** A table's column headings; `actions`: a last, unlabelled-on-screen column for row buttons. */
export function ColumnHeads({ names, actions }: { names: string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {names.map((n) => (
          <th scope="col" key={n}>
            {n}
          </th>
        ))}
        {actions ? (
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

/**
 * A secret the API returns once (a new API token, a join credential): shown with Copy until the
 * user says it is copied, then gone from the page.
 */
export function ShownOnce({ label, lead, codes, onDone }: { label: string; lead: ReactNode; codes: { label: string; code: string }[]; onDone: () => void }) {
  return (
    <div className="banner banner-secret" role="region" aria-label={label}>
      <p>
        <strong>{lead}</strong> It is shown once; Airlock keeps only its hash.
      </p>
      {codes.map((c) => (
        <CodeBlock key={c.label} label={c.label} code={c.code} />
      ))}
      <button type="button" className="btn" onClick={onDone}>
        Done, I have copied it
      </button>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      <div>{children}</div>
    </div>
  );
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">never</span>;
  const d = new Date(iso);
  return <time dateTime={iso} title={iso}>{d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</time>;
}

/** What {@link useLoad} answers: the data once loaded, the failure, whether a load runs, and how to load again. */
export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads once per `deps` change; `reload` fetches again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** Runs a dialog's action: `busy` while it runs; its failure is kept (for an ErrorBanner) until the next attempt. */
export function useAction(): { busy: boolean; error: unknown; setError: (e: unknown) => void; run: (action: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (action: () => Promise<void>) => {
    setError(undefined);
    setBusy(true);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** A form's last row: Cancel, and its submit button (disabled while the submission runs). */
export function FormActions({ onCancel, submit, busy, danger }: { onCancel: () => void; submit: string; busy?: boolean; danger?: boolean }) {
  return (
    <div className="form-actions">
      <button type="button" className="btn" onClick={onCancel}>
        Cancel
      </button>
      <button type="submit" className={`btn ${danger ? 'btn-danger' : 'btn-primary'}`} disabled={busy}>
        {submit}
      </button>
    </div>
  );
}

/**
 * Asks before something that cannot be taken back: what will happen (children), then Cancel
 * (focused) or the one danger button. A refusal stays in the dialog under `failed`.
 */
export function ConfirmDialog({ title, confirm, failed, onClose, onConfirm, children }: { title: string; confirm: string; failed: string; onClose: () => void; onConfirm: () => Promise<void>; children: ReactNode }) {
  const action = useAction();
  return (
    <Modal title={title} onClose={onClose}>
      {children}
      <ErrorBanner error={action.error} title={failed} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} autoFocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" disabled={action.busy} onClick={() => void action.run(onConfirm)}>
          {confirm}
        </button>
      </div>
    </Modal>
  );
}

/**
 * A list's states from {@link useLoad}: the loading error (kept beside stale data), "Loading…"
 * until the first answer, `empty` when there is nothing, else `children` with the items.
 */
export function ListState<T>({ list, what, failed, empty, children }: { list: { data: T[] | undefined; error: unknown; loading: boolean }; what: string; failed: string; empty: ReactNode; children: (items: T[]) => ReactNode }) {
  return (
    <>
      <ErrorBanner error={list.error} title={failed} />
      {list.loading && !list.data ? <Loading what={what} /> : null}
      {list.data && list.data.length === 0 ? empty : null}
      {list.data && list.data.length > 0 ? children(list.data) : null}
    </>
  );
}

/** A table with its column headings (and an actions column when `actions`), scrolling sideways on its own in a narrow window. */
export function Table({ label, columns, actions, busy, children }: { label: string; columns: string[]; actions?: boolean; busy?: boolean; children: ReactNode }) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table aria-label={label}>
        <ColumnHeads names={columns} actions={actions} />
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** One button of {@link RowActions}: `name` is its accessible name, which says which row it acts on. */
export interface RowAction {
  label: string;
  name: string;
  onClick: () => void;
  danger?: boolean;
}

/** A table row's actions cell: its buttons when `allowed` (the role may, the row is in a state that allows it), else empty. */
export function RowActions({ allowed, actions }: { allowed: boolean; actions: RowAction[] }) {
  return (
    <td className="actions">
      {allowed
        ? actions.map((a, i) => (
            <Fragment key={a.label}>
              {i > 0 ? ' ' : null}
              <button type="button" className={a.danger ? 'btn btn-small btn-danger-ghost' : 'btn btn-small'} aria-label={a.name} onClick={a.onClick}>
                {a.label}
              </button>
            </Fragment>
          ))
        : null}
    </td>
  );
}
