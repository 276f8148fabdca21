import { isApiError } from '../api/client';

/** ErrorMessage shows a failed call: the message, its field violations and error id. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) {
    return null;
  }
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'unexpected error';
  return (
    <div className="error-box" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {message}
      {isApiError(error) && error.fieldViolations.length > 0 ? (
        <ul>
          {error.fieldViolations.map((v) => (
            <li key={v.field}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      ) : null}
      {isApiError(error) && error.retryAfter !== undefined ? <div>Retry in {error.retryAfter} s.</div> : null}
    </div>
  );
}
