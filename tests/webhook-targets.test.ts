/**
 * Subscriber URL validation: what production accepts, every class of
 * address and name it refuses (in every spelling the URL parser accepts),
 * and what the local-development loopback option adds.
 */
import { describe, expect, it } from 'vitest';
import { checkWebhookTarget, MAX_WEBHOOK_URL_LENGTH, type WebhookTargetOptions } from '../functions/domain/webhook-targets.ts';

/** The reason `url` is refused; fails the test when it is accepted. */
function refusal(url: string, options?: WebhookTargetOptions): string {
  const result = checkWebhookTarget(url, options);
  if (result.ok) throw new Error(`${url} was accepted as ${result.url}`);
  return result.reason;
}

/** Checks that each `[url, what]` is refused as pointing to `what`. */
function expectPointsTo(cases: Array<[string, string]>): void {
  for (const [url, what] of cases) expect(refusal(url), url).toBe(`must not point to ${what}`);
}

describe('checkWebhookTarget in production', () => {
  it('accepts https URLs on public hosts and returns them normalised', () => {
    expect(checkWebhookTarget('https://hooks.example.com/strikewire?team=ops')).toEqual({ ok: true, url: 'https://hooks.example.com/strikewire?team=ops' });
    expect(checkWebhookTarget('HTTPS://Hooks.Example.COM:8443')).toEqual({ ok: true, url: 'https://hooks.example.com:8443/' });
    expect(checkWebhookTarget('https://☃.example.org/in')).toEqual({ ok: true, url: 'https://xn--n3h.example.org/in' });
    expect(checkWebhookTarget('https://8.8.8.8/hook')).toEqual({ ok: true, url: 'https://8.8.8.8/hook' });
    expect(checkWebhookTarget('https://[2606:4700:4700::1111]/hook')).toEqual({ ok: true, url: 'https://[2606:4700:4700::1111]/hook' });
    expect(checkWebhookTarget('https://172.32.0.1/')).toMatchObject({ ok: true });
    expect(checkWebhookTarget('https://100.128.0.1/')).toMatchObject({ ok: true });
  });

  it('refuses what is not an absolute URL, and overlong URLs', () => {
    expect(refusal('hooks.example.com/in')).toMatch(/absolute URL/);
    expect(refusal('')).toMatch(/absolute URL/);
    expect(refusal(`https://hooks.example.com/${'a'.repeat(MAX_WEBHOOK_URL_LENGTH)}`)).toBe(`must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  });

  it('refuses schemes other than https', () => {
    for (const url of ['http://hooks.example.com/in', 'ftp://hooks.example.com/', 'javascript:alert(1)', 'data:text/plain,hi', 'ws://hooks.example.com/']) {
      expect(refusal(url), url).toBe('must use https');
    }
  });

  it('refuses credentials in the URL', () => {
    expect(refusal('https://user:pass@hooks.example.com/')).toBe('must not contain a user name or password');
    expect(refusal('https://token@hooks.example.com/')).toBe('must not contain a user name or password');
  });

  it('refuses loopback in every spelling', () => {
    for (const url of ['https://127.0.0.1/', 'https://127.8.9.10/', 'https://2130706433/', 'https://0x7f.1/', 'https://0177.0.0.1/', 'https://127.1/', 'https://127.0.0.1./', 'https://%31%32%37.0.0.1/']) {
      expect(refusal(url), url).toBe('must not point to a loopback address (127.0.0.0/8)');
    }
    expect(refusal('https://[::1]/')).toBe('must not point to a loopback address (::1/128)');
    expect(refusal('https://[0:0:0:0:0:0:0:1]:8443/')).toBe('must not point to a loopback address (::1/128)');
    for (const url of ['https://localhost/', 'https://LOCALHOST./', 'https://api.localhost/']) expect(refusal(url), url).toBe('must not point to a loopback host (localhost)');
  });

  it('refuses private, CGNAT, "this network" and link-local IPv4', () => {
    expectPointsTo([
      ['https://10.1.2.3/', 'a private network (10.0.0.0/8)'],
      ['https://167772161/', 'a private network (10.0.0.0/8)'],
      ['https://172.16.0.1/', 'a private network (172.16.0.0/12)'],
      ['https://172.31.255.254/', 'a private network (172.16.0.0/12)'],
      ['https://192.168.1.1/', 'a private network (192.168.0.0/16)'],
      ['https://0xc0.0xa8.1.1/', 'a private network (192.168.0.0/16)'],
      ['https://100.64.0.1/', 'carrier-grade NAT space (100.64.0.0/10)'],
      ['https://100.127.255.255/', 'carrier-grade NAT space (100.64.0.0/10)'],
      ['https://0.0.0.0/', 'the "this network" block (0.0.0.0/8)'],
      ['https://0/', 'the "this network" block (0.0.0.0/8)'],
      ['https://169.254.10.20/', 'a link-local address (169.254.0.0/16)'],
    ]);
  });

  it('refuses multicast, broadcast, reserved, documentation and benchmarking IPv4', () => {
    expectPointsTo([
      ['https://224.0.0.1/', 'a multicast address (224.0.0.0/4)'],
      ['https://239.255.255.250/', 'a multicast address (224.0.0.0/4)'],
      ['https://255.255.255.255/', 'reserved or broadcast space (240.0.0.0/4)'],
      ['https://240.0.0.1/', 'reserved or broadcast space (240.0.0.0/4)'],
      ['https://192.0.0.8/', 'IETF protocol assignments (192.0.0.0/24)'],
      ['https://192.0.2.10/', 'a documentation range (192.0.2.0/24)'],
      ['https://198.51.100.7/', 'a documentation range (198.51.100.0/24)'],
      ['https://203.0.113.9/', 'a documentation range (203.0.113.0/24)'],
      ['https://198.19.0.1/', 'a benchmarking range (198.18.0.0/15)'],
    ]);
  });

  it('refuses non-public IPv6', () => {
    expectPointsTo([
      ['https://[::]/', 'the unspecified address (::/128)'],
      ['https://[fc00::1]/', 'a unique local (private) address (fc00::/7)'],
      ['https://[fd12:3456::1]/', 'a unique local (private) address (fc00::/7)'],
      ['https://[fe80::1]/', 'a link-local address (fe80::/10)'],
      ['https://[febf::1]/', 'a link-local address (fe80::/10)'],
      ['https://[fec0::1]/', 'a site-local address (fec0::/10)'],
      ['https://[ff02::1]/', 'a multicast address (ff00::/8)'],
      ['https://[2001:db8::1]/', 'a documentation range (2001:db8::/32)'],
      ['https://[2001:0:4136:e378::1]/', 'Teredo tunnelling (2001::/32)'],
      ['https://[100::1]/', 'a discard-only range (100::/64)'],
      ['https://[64:ff9b:1::a00:1]/', 'local-use NAT64 space (64:ff9b:1::/48)'],
    ]);
  });

  it('refuses non-public IPv4 inside IPv6: mapped, compatible, NAT64 and 6to4', () => {
    expect(refusal('https://[::ffff:127.0.0.1]/')).toBe('must not point to a loopback address (127.0.0.0/8)');
    expect(refusal('https://[::ffff:7f00:1]/')).toBe('must not point to a loopback address (127.0.0.0/8)');
    expect(refusal('https://[::ffff:10.0.0.1]/')).toBe('must not point to a private network (10.0.0.0/8)');
    expect(refusal('https://[::ffff:169.254.169.254]/')).toBe('must not point to the cloud metadata service (169.254.169.254/32)');
    expect(refusal('https://[::10.0.0.1]/')).toBe('must not point to a private network (10.0.0.0/8), carried in an IPv6 address (::/96)');
    expect(refusal('https://[64:ff9b::192.168.0.1]/')).toBe('must not point to a private network (192.168.0.0/16), carried in an IPv6 address (64:ff9b::/96)');
    expect(refusal('https://[2002:a9fe:a9fe::1]/')).toBe('must not point to the cloud metadata service (169.254.169.254/32), carried in an IPv6 address (2002::/16)');
    expect(checkWebhookTarget('https://[::ffff:8.8.8.8]/')).toMatchObject({ ok: true });
    expect(checkWebhookTarget('https://[64:ff9b::8.8.8.8]/')).toMatchObject({ ok: true });
  });

  it('refuses non-public IPv4 inside IPv4-translated IPv6 (::ffff:0:0:0/96), in every spelling', () => {
    for (const url of ['https://[::ffff:0:7f00:1]/', 'https://[::ffff:0:127.0.0.1]/', 'https://[0:0:0:0:ffff:0:7f00:1]/', 'https://[::FFFF:0:7F00:0001]:8443/']) {
      expect(refusal(url), url).toBe('must not point to a loopback address (127.0.0.0/8), carried in an IPv6 address (::ffff:0:0:0/96)');
    }
    expect(refusal('https://[::ffff:0:a00:1]/')).toBe('must not point to a private network (10.0.0.0/8), carried in an IPv6 address (::ffff:0:0:0/96)');
    expect(refusal('https://[::ffff:0:a9fe:a9fe]/')).toBe('must not point to the cloud metadata service (169.254.169.254/32), carried in an IPv6 address (::ffff:0:0:0/96)');
    expect(checkWebhookTarget('https://[::ffff:0:808:808]/')).toMatchObject({ ok: true });
    expect(refusal('http://[::ffff:0:7f00:1]:9000/', { allowLoopbackHttp: true })).toMatch(/carried in an IPv6 address \(::ffff:0:0:0\/96\)$/);
  });

  it('refuses every IPv4-embedding IPv6 form of loopback, in hex as well as dotted', () => {
    expectPointsTo([
      ['https://[::7f00:1]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (::/96)'],
      ['https://[::127.0.0.1]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (::/96)'],
      ['https://[64:ff9b::7f00:1]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (64:ff9b::/96)'],
      ['https://[64:ff9b::127.0.0.1]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (64:ff9b::/96)'],
      ['https://[2002:7f00:1::]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (2002::/16)'],
      ['https://[2002:7f00:0001:ffff::1]/', 'a loopback address (127.0.0.0/8), carried in an IPv6 address (2002::/16)'],
      ['https://[2002:c0a8:101::]/', 'a private network (192.168.0.0/16), carried in an IPv6 address (2002::/16)'],
      ['https://[64:ff9b:1::7f00:1]/', 'local-use NAT64 space (64:ff9b:1::/48)'],
      ['https://[64:ff9b:1:ffff::8.8.8.8]/', 'local-use NAT64 space (64:ff9b:1::/48)'],
      ['https://[2001:0:7f00:1::]/', 'Teredo tunnelling (2001::/32)'],
      ['https://[2001::8.8.8.8]/', 'Teredo tunnelling (2001::/32)'],
    ]);
    expect(checkWebhookTarget('https://[2002:808:808::1]/')).toMatchObject({ ok: true });
    expect(checkWebhookTarget('https://[::ffff:0808:0808]/')).toMatchObject({ ok: true });
  });

  it('allows only ports 443 and 8443', () => {
    expect(checkWebhookTarget('https://hooks.example.com:443/in')).toEqual({ ok: true, url: 'https://hooks.example.com/in' });
    expect(checkWebhookTarget('https://hooks.example.com:8443/in')).toEqual({ ok: true, url: 'https://hooks.example.com:8443/in' });
    expect(checkWebhookTarget('https://8.8.8.8:8443/')).toMatchObject({ ok: true });
    for (const port of ['0', '25', '80', '8080', '22', '6379', '65535', '1']) {
      expect(refusal(`https://hooks.example.com:${port}/in`), port).toBe(`must use port 443 or 8443 (got ${port})`);
    }
    expect(refusal('https://[2606:4700:4700::1111]:25/')).toBe('must use port 443 or 8443 (got 25)');
  });

  it('refuses cloud metadata hosts by address and by name', () => {
    for (const url of ['https://169.254.169.254/latest/meta-data/', 'https://2852039166/', 'https://0xa9fea9fe/']) {
      expect(refusal(url), url).toBe('must not point to the cloud metadata service (169.254.169.254/32)');
    }
    for (const name of ['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data']) {
      expect(refusal(`https://${name}/computeMetadata/v1/`), name).toBe(`must not point to the cloud metadata service (${name})`);
    }
    expect(refusal('https://[fd00:ec2::254]/')).toBe('must not point to a unique local (private) address (fc00::/7)');
  });

  it('refuses single-label names and names that resolve only inside a network', () => {
    expect(refusal('https://intranet/')).toMatch(/^must name a public host; "intranet" is a single-label name/);
    expect(refusal('https://hooks./')).toMatch(/^must name a public host; "hooks" is a single-label name/);
    const cases: Array<[string, string]> = [
      ['printer.local', 'local'],
      ['hooks.corp.internal', 'internal'],
      ['box.localdomain', 'localdomain'],
      ['nas.home.arpa', 'home.arpa'],
      ['1.0.0.127.in-addr.arpa', 'arpa'],
      ['hooks.test', 'test'],
      ['hooks.invalid', 'invalid'],
      ['abcdef.onion', 'onion'],
      ['Router.LAN.', 'lan'],
    ];
    for (const [host, suffix] of cases) expect(refusal(`https://${host}/`), host).toBe(`must name a public host; .${suffix} names are not publicly resolvable`);
  });

  it('does not mistake public names that merely contain those words', () => {
    for (const url of ['https://local.example.com/', 'https://internal-hooks.example.com/', 'https://localhost.example.com/', 'https://metadata.example.com/', 'https://mytest.com/']) {
      expect(checkWebhookTarget(url), url).toMatchObject({ ok: true });
    }
  });
});

describe('checkWebhookTarget with allowLoopbackHttp', () => {
  const dev = { allowLoopbackHttp: true };

  it('accepts http and https to loopback hosts', () => {
    for (const [url, normalised] of [
      ['http://127.0.0.1:9000/hook', 'http://127.0.0.1:9000/hook'],
      ['http://localhost:9000/hook', 'http://localhost:9000/hook'],
      ['https://localhost/hook', 'https://localhost/hook'],
      ['http://[::1]:9000/', 'http://[::1]:9000/'],
      ['http://2130706433:9000/', 'http://127.0.0.1:9000/'],
      ['http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/'],
      ['http://hooks.localhost/', 'http://hooks.localhost/'],
    ]) {
      expect(checkWebhookTarget(url!, dev), url).toEqual({ ok: true, url: normalised });
    }
  });

  it('still refuses http elsewhere, non-loopback private hosts and credentials', () => {
    expect(refusal('http://hooks.example.com/', dev)).toBe('must use https (http is allowed only to loopback hosts)');
    expect(refusal('http://10.0.0.1/', dev)).toBe('must not point to a private network (10.0.0.0/8)');
    expect(refusal('https://[fe80::1]/', dev)).toBe('must not point to a link-local address (fe80::/10)');
    expect(refusal('http://[::127.0.0.1]/', dev)).toMatch(/carried in an IPv6 address/);
    expect(refusal('http://user:pw@localhost/', dev)).toBe('must not contain a user name or password');
    expect(refusal('ftp://localhost/', dev)).toBe('must use https');
    expect(checkWebhookTarget('https://hooks.example.com/', dev)).toMatchObject({ ok: true });
  });

  it('accepts any port from 1 to 65535 on loopback, and still only 443 or 8443 elsewhere', () => {
    for (const url of ['http://127.0.0.1:1/', 'http://127.0.0.1:25/', 'http://localhost:65535/', 'https://127.0.0.1:9443/', 'http://[::1]:8080/']) {
      expect(checkWebhookTarget(url, dev), url).toMatchObject({ ok: true });
    }
    expect(refusal('http://127.0.0.1:0/', dev)).toBe('must use a port from 1 to 65535 (got 0)');
    expect(refusal('http://localhost:0/', dev)).toBe('must use a port from 1 to 65535 (got 0)');
    expect(refusal('https://hooks.example.com:25/', dev)).toBe('must use port 443 or 8443 (got 25)');
    expect(refusal('https://hooks.example.com:0/', dev)).toBe('must use port 443 or 8443 (got 0)');
  });

  it('is off unless asked for', () => {
    expect(refusal('http://127.0.0.1:9000/', { allowLoopbackHttp: false })).toBe('must not point to a loopback address (127.0.0.0/8)');
  });
});
