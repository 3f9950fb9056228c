import { encode } from 'uqr';

const QUIET_ZONE = 2; // modules of light border; phone scanners read 2 reliably, 4 is the spec's ideal
const BLACK_ON_WHITE = '\x1b[30;47m';
const RESET = '\x1b[0m';

/**
 * A QR code for a terminal: two modules per character cell with the half blocks ▀ ▄ █ and space,
 * drawn black on an explicit white background so it scans the same on dark and light terminal themes.
 * Medium error correction: a URL of ~60 characters stays small (about 33 columns).
 */
export function renderQr(text: string, options: { color?: boolean } = {}): string {
  const { data } = encode(text, { ecc: 'M', border: 0 });
  const size = data.length + 2 * QUIET_ZONE;
  const dark = (row: number, col: number) => data[row - QUIET_ZONE]?.[col - QUIET_ZONE] === true;
  const lines: string[] = [];
  for (let row = 0; row < size; row += 2) {
    let line = '';
    for (let col = 0; col < size; col++) {
      const top = dark(row, col);
      const bottom = row + 1 < size && dark(row + 1, col);
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(options.color === false ? line : `${BLACK_ON_WHITE}${line}${RESET}`);
  }
  return `${lines.join('\n')}\n`;
}
