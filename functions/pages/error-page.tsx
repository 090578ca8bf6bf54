/** The page of a 400 or 404 for browsers: the same message and fields as the JSON error, and where to go on. */
import type { Child } from 'hono/jsx';
import { feedLinks } from '../domain/follow.ts';
import { Layout } from './layout.tsx';

/** What the page says. */
export interface ErrorPageProps {
  origin: string;
  heading: string;
  message: string;
  fields?: ReadonlyArray<{ field: string; message: string }>;
  /** What helps next, e.g. the filter form; by default links to the records and the documents. */
  children?: Child;
}

/** The page. */
export function ErrorPage({ origin, heading, message, fields = [], children }: ErrorPageProps) {
  return (
    <Layout title={heading} feeds={feedLinks(origin, new URLSearchParams())}>
      <h1>{heading}</h1>
      <p role="alert">{message}</p>
      {fields.length ? (
        <ul>
          {fields.map((problem) => (
            <li>
              <code>{problem.field}</code> {problem.message}
            </li>
          ))}
        </ul>
      ) : (
        ''
      )}
      {children ?? (
        <p>
          See <a href="/events">all records</a> or the <a href="/sources">source documents</a>.
        </p>
      )}
    </Layout>
  );
}
