/**
 * The frame of every HTML page: language, title, the `<link rel="alternate">`
 * discovery links to the feeds of the page's filter, a small style sheet
 * (dark text on white, contrast of 4.5:1 or more; visible focus), and the
 * site's navigation. Pages work without JavaScript and load nothing else
 * (the record page's map shows a static SVG of this origin), but the
 * explorer, which adds its own style sheets and script.
 */
import type { Child } from 'hono/jsx';
import type { FeedLink } from '../domain/follow.ts';

/** Colours and layout; every text colour reaches WCAG AA contrast on its background. */
const STYLE = `
:root { color-scheme: light; --text: #1b1b1b; --muted: #454545; --link: #0a4fc4; --line: #c4c4c4; --panel: #f3f5f7; --focus: #b3470a; }
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--text); background: #fff; }
header, main, footer { max-width: 62rem; margin: 0 auto; padding: 0 1rem; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: baseline; border-bottom: 1px solid var(--line); padding-block: .6rem; }
header .site { font-weight: 700; font-size: 1.15rem; }
nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
h1 { line-height: 1.25; margin-block: 1rem .5rem; }
h2 { margin-block: 1.6rem .5rem; border-bottom: 1px solid var(--line); }
.muted { color: var(--muted); }
blockquote { margin: .4rem 0 1rem; padding: .4rem 1rem; border-left: 4px solid var(--line); background: var(--panel); white-space: pre-wrap; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--panel); padding: .8rem; }
.panel { background: var(--panel); padding: .2rem 1rem 1rem; margin-block: 1rem; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .6rem 1rem; }
form.filters label, form.filters legend { display: block; font-weight: 600; }
form.filters fieldset label { display: inline-block; white-space: nowrap; font-weight: 400; margin-right: .8rem; }
form.filters fieldset { border: 1px solid var(--line); margin: 0; }
form.filters input[type=text], form.filters input[type=date], form.filters input[type=search], form.filters input[type=number], form.filters select { width: 100%; padding: .3rem; font: inherit; border: 1px solid #767676; }
form.filters .actions { grid-column: 1 / -1; }
button { font: inherit; padding: .35rem 1rem; background: var(--link); color: #fff; border: 0; border-radius: 3px; cursor: pointer; }
ol.events li { margin-bottom: .6rem; }
.pages { display: flex; gap: 1.5rem; margin-block: 1rem; }
.place-map { margin: .5rem 0 1rem; max-width: 26rem; }
.place-map svg { display: block; width: 100%; height: auto; }
.place-map figcaption { font-size: .9rem; margin-top: .3rem; }
`;

/** What the frame needs from a page. */
export interface LayoutProps {
  /** The page's own title; " · strikewire" is added. */
  title: string;
  /** The feeds of the page's filter, announced in the head. */
  feeds: readonly FeedLink[];
  /** What else the head holds: the explorer's style sheets and script (other pages load nothing but themselves). */
  head?: Child;
  children?: Child;
}

/** The frame of a page. */
export function Layout({ title, feeds, head, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · strikewire`}</title>
        {/* No icon: an empty one keeps browsers from requesting /favicon.ico. */}
        <link rel="icon" href="data:," />
        {feeds.map((feed) => (
          <link rel="alternate" type={feed.type} title={`strikewire: ${feed.name}`} href={feed.url} />
        ))}
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
        {head}
      </head>
      <body>
        <header>
          <a class="site" href="/">
            strikewire
          </a>
          <nav aria-label="Site">
            <ul>
              <li>
                <a href="/events">Events</a>
              </li>
              <li>
                <a href="/sources">Source documents</a>
              </li>
              <li>
                <a href="/actors">Actors (JSON)</a>
              </li>
            </ul>
          </nav>
        </header>
        <main>{children}</main>
        <footer>
          <p class="muted">Every figure cites a source document with a verbatim quote. The same URLs answer JSON to API clients.</p>
        </footer>
      </body>
    </html>
  );
}
