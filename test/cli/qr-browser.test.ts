import jsqrModule from 'jsqr';
import { describe, expect, it } from 'vitest';
import { browserLauncher } from '../../src/cli/browser.js';
import { renderQr } from '../../src/cli/qr.js';

// jsqr is a CommonJS bundle with `exports.default`: under NodeNext the default import is the module object.
const jsQR = ((jsqrModule as unknown as { default?: unknown }).default ?? jsqrModule) as typeof jsqrModule.default;

/** Turns the half-block text back into pixels (4 px per module, plus a white margin) and decodes it. */
function decode(text: string): string | undefined {
  const rows = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((line) => line.length);
  const modules: boolean[][] = [];
  for (const row of rows) {
    const chars = [...row];
    modules.push(chars.map((c) => c === '█' || c === '▀'));
    modules.push(chars.map((c) => c === '█' || c === '▄'));
  }
  const scale = 4;
  const margin = 8;
  const width = (modules[0]!.length + 2 * margin) * scale;
  const height = (modules.length + 2 * margin) * scale;
  const pixels = new Uint8ClampedArray(width * height * 4).fill(255);
  modules.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy++)
        for (let dx = 0; dx < scale; dx++) {
          const offset = (((y + margin) * scale + dy) * width + (x + margin) * scale + dx) * 4;
          pixels[offset] = pixels[offset + 1] = pixels[offset + 2] = 0;
        }
    });
  });
  return jsQR(pixels, width, height)?.data;
}

describe('terminal QR code', () => {
  it('decodes back to the verification_uri_complete (drawn black on white, half blocks)', () => {
    const url = 'https://auth.example.com/device?user_code=WDJB-MJHT';
    const qr = renderQr(url);
    expect(qr).toMatch(/[█▀▄]/);
    expect(qr.split('\n')[0]).toMatch(/^\x1b\[30;47m/); // explicit colours: scans on dark and light themes
    expect(decode(qr)).toBe(url);
    expect(decode(renderQr('http://127.0.0.1:41234/device?user_code=HYET-927C', { color: false }))).toBe(
      'http://127.0.0.1:41234/device?user_code=HYET-927C',
    );
  });
});

describe('browser launcher', () => {
  const everywhere = () => true;
  const nowhere = () => false;

  it('Linux: xdg-open only with a display, never in SSH/CI/containers without one', () => {
    expect(browserLauncher('https://x/', { platform: 'linux', env: { DISPLAY: ':0' }, onPath: everywhere })).toEqual({
      command: 'xdg-open',
      args: ['https://x/'],
    });
    expect(browserLauncher('https://x/', { platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' }, onPath: everywhere })).toMatchObject({
      command: 'xdg-open',
    });
    expect(browserLauncher('https://x/', { platform: 'linux', env: {}, onPath: everywhere })).toEqual({
      unusable: 'no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)',
    });
    expect(browserLauncher('https://x/', { platform: 'linux', env: { DISPLAY: ':0' }, onPath: nowhere })).toEqual({
      unusable: '`xdg-open` is not on PATH',
    });
  });

  it('macOS: open, except in an SSH session; Windows: cmd start with & escaped', () => {
    expect(browserLauncher('https://x/', { platform: 'darwin', env: {}, onPath: everywhere })).toEqual({ command: 'open', args: ['https://x/'] });
    expect(browserLauncher('https://x/', { platform: 'darwin', env: { SSH_CONNECTION: '1 2 3 4' }, onPath: everywhere })).toHaveProperty('unusable');
    expect(browserLauncher('https://x/?a=1&b=2', { platform: 'win32', env: {}, onPath: nowhere })).toMatchObject({
      command: 'cmd.exe',
      args: ['/d', '/s', '/c', 'start "" "https://x/?a=1^&b=2"'],
      verbatim: true,
    });
  });
});
