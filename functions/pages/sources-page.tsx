/** The source documents for browsers: the list (`GET /sources`) and each document's text (`GET /sources/:name`). */
import { feedLinks } from '../domain/follow.ts';
import type { SourceDocument } from '../domain/schema.ts';
import { sourcePath, type SourceWithText } from '../domain/sources.ts';
import { Layout } from './layout.tsx';
import { codeWords } from './words.ts';

/** When a document was published, at its precision. */
const publishedWords = (document: SourceDocument): string => (document.published ? `${document.published} (${document.published_precision})` : `not dated (${document.published_precision})`);

/** The list of documents. */
export function SourcesPage({ origin, documents }: { origin: string; documents: readonly SourceDocument[] }) {
  return (
    <Layout title="Source documents" feeds={feedLinks(origin, new URLSearchParams())}>
      <h1>Source documents</h1>
      <p>Every figure of every record quotes one of these documents verbatim.</p>
      <table>
        <thead>
          <tr>
            <th scope="col">Document</th>
            <th scope="col">Publisher</th>
            <th scope="col">Kind</th>
            <th scope="col">Published</th>
          </tr>
        </thead>
        <tbody>
          {documents.map((document) => (
            <tr>
              <td>
                <a href={sourcePath(document.document)}>{document.document}</a>
              </td>
              <td>{document.publisher}</td>
              <td>{codeWords(document.kind)}</td>
              <td>{publishedWords(document)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

/** One document: what is known of it, then its text as stored. */
export function SourcePage({ origin, document }: { origin: string; document: SourceWithText }) {
  return (
    <Layout title={document.document} feeds={feedLinks(origin, new URLSearchParams())}>
      <h1>{document.publisher}</h1>
      <dl>
        <dt>File</dt>
        <dd>
          <code>data/sources/{document.document}</code> (plain text to clients that do not ask for HTML)
        </dd>
        <dt>Kind</dt>
        <dd>{codeWords(document.kind)}</dd>
        <dt>Published</dt>
        <dd>{publishedWords(document)}</dd>
        <dt>About its date</dt>
        <dd>{document.note}</dd>
      </dl>
      <h2>Text</h2>
      <pre lang={document.language} class="document">
        {document.text}
      </pre>
    </Layout>
  );
}
