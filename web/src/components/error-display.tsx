/** Shows an error from the API with its code and message (and request id), never a blank page. */
import { ApiError } from '../api/client';
import styles from './error-display.module.css';

export function describeError(error: unknown): { code: string; message: string; requestId: string | null } {
  if (error instanceof ApiError) return { code: error.code, message: error.message, requestId: error.requestId };
  if (error instanceof Error) return { code: 'CLIENT_ERROR', message: error.message, requestId: null };
  return { code: 'CLIENT_ERROR', message: String(error), requestId: null };
}

export function ErrorDisplay({ error, title }: { error: unknown; title?: string }) {
  const { code, message, requestId } = describeError(error);
  return (
    <div className={styles.error} role="alert">
      {title === undefined ? null : <p className={styles.title}>{title}</p>}
      <p>
        <code className={styles.code}>{code}</code> {message}
      </p>
      {requestId === null ? null : <p className={styles.requestId}>Request id: {requestId}</p>}
    </div>
  );
}
