/** A stream the CLI writes to; `isTTY` decides spinners, colours and the QR code. */
export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean | undefined;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A one-line spinner on a terminal, redrawn in place with `\r` and erase-line. Hand-written (about 30
 * lines) rather than a dependency: all it needs is a frame, a text that changes, and a clean stop;
 * spinner packages add colour handling, cursor hiding (which a crash can leave hidden) and stdin
 * handling that a `devicegate login` inside an MCP host must not touch. Never used off a terminal.
 */
export class Spinner {
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private text = '';

  constructor(private readonly stream: OutputStream) {}

  start(text: string, everyMs = 100): void {
    this.text = text;
    this.draw();
    this.timer = setInterval(() => this.draw(), everyMs);
    this.timer.unref(); // never keeps the process alive by itself
  }

  update(text: string): void {
    this.text = text;
  }

  /** Erases the line; `finalLine` (if any) is written in its place. */
  stop(finalLine?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write(`\r\x1b[2K${finalLine ? `${finalLine}\n` : ''}`);
  }

  private draw(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    this.stream.write(`\r\x1b[2K${FRAMES[this.frame]} ${this.text}`);
  }
}

/** 754 → "12:34", 3725 → "1:02:05". */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** 45 → "45 s", 600 → "10 min", 7200 → "2 h", 200000 → "2 d". */
export function formatDuration(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export function bold(text: string, enabled: boolean): string {
  return enabled ? `\x1b[1m${text}\x1b[0m` : text;
}
