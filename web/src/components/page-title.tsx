/** A page's heading, and the document title that screen readers and tabs announce. */
import { useEffect } from 'react';

export function PageTitle({ children }: { children: string }) {
  useEffect(() => {
    document.title = `${children} · Reelin`;
  }, [children]);
  return <h1>{children}</h1>;
}
