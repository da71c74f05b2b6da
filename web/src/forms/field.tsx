/**
 * A labelled form field whose error, when the API rejected it, is shown next to it in the API's own
 * words (validationErrors[].message for this field) and tied to it with aria-describedby.
 */
import { useId, type ReactElement, type ReactNode } from 'react';
import { cloneElement } from 'react';
import styles from './field.module.css';

export interface FieldProps {
  label: string;
  /** The API's message for this field, if it rejected it. */
  error: string | null;
  hint?: ReactNode;
  /** The input, select or textarea; it gets the id and the aria attributes. */
  children: ReactElement<{ id?: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }>;
  inline?: boolean;
}

export function Field({ label, error, hint, children, inline }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint === undefined ? null : hintId, error === null ? null : errorId].filter(Boolean).join(' ');
  const control = cloneElement(children, {
    id,
    ...(describedBy === '' ? {} : { 'aria-describedby': describedBy }),
    ...(error === null ? {} : { 'aria-invalid': true }),
  });
  return (
    <div className={inline ? `${styles.field} ${styles.inline}` : styles.field}>
      <label htmlFor={id}>{label}</label>
      {control}
      {hint === undefined ? null : (
        <span id={hintId} className={styles.hint}>
          {hint}
        </span>
      )}
      {error === null ? null : (
        <span id={errorId} className={styles.error} data-testid="field-error">
          {error}
        </span>
      )}
    </div>
  );
}
