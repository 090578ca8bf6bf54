/**
 * The source documents every record cites (data/sources/*.txt), bundled with
 * the Worker as text, with what is known of each (data/sources.json). A new
 * document needs its import here; tests/sources.test.ts fails for any file
 * of data/sources/ that is not served.
 */
import * as v from 'valibot';
import descriptions from '../../data/sources.json';
import document000 from '../../data/sources/000_47b8be4f10ca94f1.txt';
import document001 from '../../data/sources/001_5f01f21ba7924d22.txt';
import document002 from '../../data/sources/002_7b12dcae1b66bd78.txt';
import document003 from '../../data/sources/003_50166f423c432255.txt';
import document004 from '../../data/sources/004_5035398249f86470.txt';
import { SourceDocumentSchema, type SourceDocument } from './schema.ts';

/** The text of each document, by file name. */
const TEXTS: Readonly<Record<string, string>> = {
  '000_47b8be4f10ca94f1.txt': document000,
  '001_5f01f21ba7924d22.txt': document001,
  '002_7b12dcae1b66bd78.txt': document002,
  '003_50166f423c432255.txt': document003,
  '004_5035398249f86470.txt': document004,
};

/** Every described document, in the order of data/sources.json; checked when the Worker loads. */
export const SOURCE_DOCUMENTS: readonly SourceDocument[] = v.parse(v.array(SourceDocumentSchema), descriptions);

/** A document with its text. */
export interface SourceWithText extends SourceDocument {
  text: string;
}

/** The document called `name`, with its text; undefined when there is none. */
export function sourceDocument(name: string): SourceWithText | undefined {
  const described = SOURCE_DOCUMENTS.find((document) => document.document === name);
  const text = Object.hasOwn(TEXTS, name) ? TEXTS[name] : undefined;
  return described && text !== undefined ? { ...described, text } : undefined;
}

/** The path a document is served at. */
export const sourcePath = (name: string): string => `/sources/${encodeURIComponent(name)}`;
