import { Link } from 'react-router';
import { PageTitle } from '../components/page-title';

export function NotFoundPage() {
  return (
    <section>
      <PageTitle>Page not found</PageTitle>
      <p>
        There is no page at this address. <Link to="/videos">Go to the videos</Link>.
      </p>
    </section>
  );
}
