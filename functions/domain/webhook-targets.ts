/**
 * Which URLs may receive webhooks. In production only `https:` URLs on public
 * hosts: no credentials in the URL, no loopback, private, link-local, CGNAT,
 * multicast, reserved or documentation addresses (IPv4, IPv6, and IPv4 carried
 * inside IPv6), no cloud metadata hosts, and no names that only resolve inside
 * a network (single labels, `.local`, `.internal`, …), and only ports 443 and
 * 8443. Local development may opt in to loopback targets over `http:` or
 * `https:` on any port (local receivers listen on ports picked at random).
 *
 * The URL is parsed with the WHATWG parser the Worker's `fetch` uses, so
 * decimal, hex, octal and short IPv4 forms (`2130706433`, `0x7f.1`, `127.1`)
 * and percent-encoded hosts are checked in the form they would be fetched.
 * A public name that resolves to a private address cannot be seen from here;
 * Workers' outbound `fetch` does not reach private networks in any case.
 */

/** Longest accepted subscriber URL. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Deployment choices for target validation. */
export interface WebhookTargetOptions {
  /** Local development only: also accept `http:` and `https:` URLs on loopback hosts (127.0.0.0/8, ::1, localhost). */
  allowLoopbackHttp?: boolean;
}

/** The verdict on a URL: the normalised URL to store, or why it is refused (phrased to follow "url: "). */
export type WebhookTargetCheck = { ok: true; url: string } | { ok: false; reason: string };

/** A 128-bit address; IPv4 addresses are held IPv4-mapped (`::ffff:a.b.c.d`). */
type Address = Uint8Array;

/** Parses dotted-quad IPv4 into its IPv4-mapped IPv6 form; null when `text` is not dotted-quad. */
function parseIpv4(text: string): Address | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return null;
  const address = new Uint8Array(16);
  address[10] = 0xff;
  address[11] = 0xff;
  address.set(parts.map(Number), 12);
  return address;
}

/** Parses IPv6 as the URL parser serialises it: hex groups with at most one `::`. */
function parseIpv6(text: string): Address {
  const [head, tail] = text.split('::') as [string, string?];
  const groups = (part?: string) => (part ? part.split(':') : []);
  const zeros = Array<string>(8 - groups(head).length - groups(tail).length).fill('0');
  const address = new Uint8Array(16);
  [...groups(head), ...zeros, ...groups(tail)].forEach((group, index) => {
    const value = parseInt(group, 16);
    address[index * 2] = value >> 8;
    address[index * 2 + 1] = value & 0xff;
  });
  return address;
}

/** A CIDR range of the address space. */
interface Range {
  cidr: string;
  base: Address;
  bits: number;
}

/** Parses `a.b.c.d/n` (as IPv4-mapped) or `x::y/n`. */
function parseRange(cidr: string): Range {
  const [text, length] = cidr.split('/') as [string, string];
  const v4 = parseIpv4(text);
  return { cidr, base: v4 ?? parseIpv6(text), bits: Number(length) + (v4 ? 96 : 0) };
}

/** True when the first `bits` bits of `address` equal those of the range's base. */
function inRange(address: Address, { base, bits }: Range): boolean {
  for (let bit = 0; bit < bits; bit += 8) {
    const mask = bits - bit >= 8 ? 0xff : (0xff << (8 - (bits - bit))) & 0xff;
    if ((address[bit / 8]! & mask) !== (base[bit / 8]! & mask)) return false;
  }
  return true;
}

/** Ranges no webhook may target, first match wins; `loopback` ones are allowed by `allowLoopbackHttp`. */
const BLOCKED_RANGES: ReadonlyArray<{ range: Range; what: string; loopback?: true }> = (
  [
    ['169.254.169.254/32', 'the cloud metadata service'],
    ['0.0.0.0/8', 'the "this network" block'],
    ['10.0.0.0/8', 'a private network'],
    ['100.64.0.0/10', 'carrier-grade NAT space'],
    ['127.0.0.0/8', 'a loopback address', true],
    ['169.254.0.0/16', 'a link-local address'],
    ['172.16.0.0/12', 'a private network'],
    ['192.0.0.0/24', 'IETF protocol assignments'],
    ['192.0.2.0/24', 'a documentation range'],
    ['192.168.0.0/16', 'a private network'],
    ['198.18.0.0/15', 'a benchmarking range'],
    ['198.51.100.0/24', 'a documentation range'],
    ['203.0.113.0/24', 'a documentation range'],
    ['224.0.0.0/4', 'a multicast address'],
    ['240.0.0.0/4', 'reserved or broadcast space'],
    ['::/128', 'the unspecified address'],
    ['::1/128', 'a loopback address', true],
    ['64:ff9b:1::/48', 'local-use NAT64 space'],
    ['100::/64', 'a discard-only range'],
    ['2001::/32', 'Teredo tunnelling'],
    ['2001:db8::/32', 'a documentation range'],
    ['fc00::/7', 'a unique local (private) address'],
    ['fe80::/10', 'a link-local address'],
    ['fec0::/10', 'a site-local address'],
    ['ff00::/8', 'a multicast address'],
  ] as const
).map(([cidr, what, loopback]) => ({ range: parseRange(cidr), what, ...(loopback ? { loopback } : {}) }));

/**
 * IPv6 ranges that carry an IPv4 address, and the byte where it starts; the
 * IPv4 address is checked in their stead: IPv4-compatible, IPv4-translated
 * (SIIT), well-known NAT64 and 6to4. (IPv4-mapped `::ffff:0:0/96` needs no
 * entry: IPv4 ranges are held in that form. Local-use NAT64 and Teredo are
 * refused outright in BLOCKED_RANGES.)
 */
const IPV4_CARRIERS: ReadonlyArray<{ range: Range; offset: number }> = [
  { range: parseRange('::/96'), offset: 12 },
  { range: parseRange('::ffff:0:0:0/96'), offset: 12 },
  { range: parseRange('64:ff9b::/96'), offset: 12 },
  { range: parseRange('2002::/16'), offset: 2 },
];

/** Ports a webhook may target outside local development: 443 (the `https:` default, which the URL parser leaves out) and 8443. */
const WEBHOOK_PORTS = new Set(['', '443', '8443']);

/** Host names of cloud metadata services. */
const METADATA_HOSTS = new Set(['metadata', 'metadata.goog', 'metadata.google.internal', 'instance-data', 'instance-data.ec2.internal']);

/** Top-level names that resolve only inside a network or not at all (RFC 6761, RFC 6762, RFC 8375, ICANN's `.internal`, common private use). */
const NON_PUBLIC_SUFFIXES = ['local', 'internal', 'localdomain', 'lan', 'home', 'corp', 'intranet', 'private', 'home.arpa', 'arpa', 'test', 'example', 'invalid', 'onion', 'alt'];

/** Why a host may not be targeted, and whether it is loopback; null for a public host. */
interface HostProblem {
  reason: string;
  loopback: boolean;
}

/** Why an address may not be targeted; IPv4 carried in IPv6 is judged as the IPv4 address. */
function addressProblem(address: Address): HostProblem | null {
  const blocked = BLOCKED_RANGES.find(({ range }) => inRange(address, range));
  if (blocked) return { reason: `must not point to ${blocked.what} (${blocked.range.cidr})`, loopback: blocked.loopback === true };
  const carrier = IPV4_CARRIERS.find(({ range }) => inRange(address, range));
  if (!carrier) return null;
  const problem = addressProblem(parseIpv4(Array.from(address.subarray(carrier.offset, carrier.offset + 4)).join('.'))!);
  return problem && { reason: `${problem.reason}, carried in an IPv6 address (${carrier.range.cidr})`, loopback: false };
}

/** Why a URL host (as `URL.hostname` gives it) may not be targeted. */
function hostProblem(hostname: string): HostProblem | null {
  if (hostname.startsWith('[')) return addressProblem(parseIpv6(hostname.slice(1, -1)));
  const address = parseIpv4(hostname);
  if (address) return addressProblem(address);
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (name === 'localhost' || name.endsWith('.localhost')) return { reason: 'must not point to a loopback host (localhost)', loopback: true };
  if (METADATA_HOSTS.has(name)) return { reason: `must not point to the cloud metadata service (${name})`, loopback: false };
  if (!name.includes('.')) return { reason: `must name a public host; "${name}" is a single-label name that resolves only inside a network`, loopback: false };
  const suffix = NON_PUBLIC_SUFFIXES.find((candidate) => name.endsWith(`.${candidate}`));
  if (suffix) return { reason: `must name a public host; .${suffix} names are not publicly resolvable`, loopback: false };
  return null;
}

/**
 * Checks a subscriber URL. Accepts `https:` URLs on public hosts on port 443
 * or 8443 and, with `allowLoopbackHttp`, `http:` or `https:` URLs on loopback
 * hosts on any port from 1 to 65535; returns the URL as the WHATWG parser
 * normalises it (the form to store and fetch). Run at subscription time and
 * again before every delivery, so a stored URL is judged by today's rules.
 */
export function checkWebhookTarget(input: string, options: WebhookTargetOptions = {}): WebhookTargetCheck {
  if (input.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'must be an absolute URL, such as https://example.com/webhooks' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'must use https' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain a user name or password' };
  const problem = hostProblem(url.hostname);
  if (problem?.loopback && options.allowLoopbackHttp) {
    return url.port === '0' ? { ok: false, reason: 'must use a port from 1 to 65535 (got 0)' } : { ok: true, url: url.href };
  }
  if (problem) return { ok: false, reason: problem.reason };
  if (url.protocol !== 'https:') return { ok: false, reason: options.allowLoopbackHttp ? 'must use https (http is allowed only to loopback hosts)' : 'must use https' };
  if (!WEBHOOK_PORTS.has(url.port)) return { ok: false, reason: `must use port 443 or 8443 (got ${url.port})` };
  return { ok: true, url: url.href };
}
