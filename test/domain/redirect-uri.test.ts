import { describe, expect, it } from 'vitest';
import { isLoopbackRedirectUri, redirectUriMatches } from '../../src/domain/redirect-uri.js';

describe('redirect URI matching (OAuth 2.1 §2.3.1, RFC 8252 §7.3)', () => {
  it('matches registered URIs by exact string only', () => {
    const registered = ['https://app.example.com/callback', 'com.example.app:/oauth2redirect'];
    expect(redirectUriMatches('https://app.example.com/callback', registered)).toBe(true);
    expect(redirectUriMatches('com.example.app:/oauth2redirect', registered)).toBe(true);
    for (const near of [
      'https://app.example.com/callback/',
      'https://app.example.com/callback?x=1',
      'https://app.example.com/Callback',
      'https://APP.example.com/callback',
      'https://app.example.com:443/callback',
      'https://app.example.com/callback#frag',
      'https://app.example.com/other/../callback',
      'https://app.example.com.evil.com/callback',
      'http://app.example.com/callback',
      'https://app.example.com:8443/callback',
    ]) {
      expect(redirectUriMatches(near, registered), near).toBe(false);
    }
  });

  it('lets a loopback IP redirect match on any port, path and query still exact (RFC 8252 §7.3)', () => {
    const registered = ['http://127.0.0.1/callback', 'http://[::1]:8080/cb?app=1'];
    expect(redirectUriMatches('http://127.0.0.1:49152/callback', registered)).toBe(true);
    expect(redirectUriMatches('http://127.0.0.1/callback', registered)).toBe(true);
    expect(redirectUriMatches('http://[::1]:3000/cb?app=1', registered)).toBe(true);
    expect(redirectUriMatches('http://[::1]/cb?app=1', registered)).toBe(true);
    for (const near of [
      'http://127.0.0.1:49152/callback/',
      'http://127.0.0.1:49152/other',
      'http://127.0.0.1:49152/callback?x=1',
      'http://127.0.0.1:49152/callback#x',
      'https://127.0.0.1:49152/callback',
      'http://127.0.0.2:49152/callback',
      'http://user@127.0.0.1:49152/callback',
      'http://127.0.0.1:49152/x/../callback',
      'http://[::1]:3000/cb?app=2',
      'http://[0:0:0:0:0:0:0:1]:3000/cb?app=1',
      'http://127.1:49152/callback',
      'http://[::ffff:127.0.0.1]:49152/callback',
    ]) {
      expect(redirectUriMatches(near, registered), near).toBe(false);
    }
  });

  it('does not extend the port rule to localhost (RFC 8252 §8.3): exact match only', () => {
    const registered = ['http://localhost:8080/callback'];
    expect(redirectUriMatches('http://localhost:8080/callback', registered)).toBe(true);
    expect(redirectUriMatches('http://localhost:9090/callback', registered)).toBe(false);
    expect(redirectUriMatches('http://localhost/callback', registered)).toBe(false);
    expect(isLoopbackRedirectUri('http://localhost:8080/callback')).toBe(false);
  });

  it('does not let a loopback port wildcard cross between 127.0.0.1 and ::1', () => {
    expect(redirectUriMatches('http://[::1]:5000/callback', ['http://127.0.0.1/callback'])).toBe(false);
  });

  it('recognises the loopback form', () => {
    expect(isLoopbackRedirectUri('http://127.0.0.1:1234/cb')).toBe(true);
    expect(isLoopbackRedirectUri('http://[::1]:1234/cb')).toBe(true);
    expect(isLoopbackRedirectUri('https://127.0.0.1:1234/cb')).toBe(false);
    expect(isLoopbackRedirectUri('not a url')).toBe(false);
  });
});
