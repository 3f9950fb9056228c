import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface BrowserEnvironment {
  readonly platform: NodeJS.Platform;
  readonly env: NodeJS.ProcessEnv;
  /** Is `command` an executable on PATH? */
  readonly onPath?: (command: string) => boolean;
}

export interface Launcher {
  readonly command: string;
  readonly args: readonly string[];
  /** Windows: pass the arguments to cmd.exe as they are (its own quoting rules). */
  readonly verbatim?: boolean;
}
export type BrowserLauncher = Launcher | { readonly unusable: string };

/**
 * How to open a URL here, or why not: `open` on macOS, `cmd /c start` on Windows, `xdg-open` elsewhere
 * and only with a display (DISPLAY or WAYLAND_DISPLAY): over SSH, in a container or in CI xdg-open would
 * fall back to a text browser inside our terminal, or wait on D-Bus, which is the hang to avoid.
 */
export function browserLauncher(url: string, { platform, env, onPath = (c) => isOnPath(c, env) }: BrowserEnvironment): BrowserLauncher {
  if (platform === 'darwin') {
    if (env.SSH_CONNECTION && !env.DISPLAY) return { unusable: 'this is an SSH session' };
    return onPath('open') ? { command: 'open', args: [url] } : { unusable: '`open` is not on PATH' };
  }
  if (platform === 'win32') {
    // `start` is a cmd built-in; the empty "" is its window title. ^ escapes & in the URL for cmd.
    return { command: env.ComSpec ?? 'cmd.exe', args: ['/d', '/s', '/c', `start "" "${url.replace(/[&^]/g, '^$&')}"`], verbatim: true };
  }
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return { unusable: 'no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)' };
  return onPath('xdg-open') ? { command: 'xdg-open', args: [url] } : { unusable: '`xdg-open` is not on PATH' };
}

/** Starts the browser detached and returns at once: never waits on it, never lets it write to our terminal. */
export function launchBrowser(launcher: Launcher): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      const child = spawn(launcher.command, [...launcher.args], {
        detached: true,
        stdio: 'ignore',
        windowsHide: true,
        windowsVerbatimArguments: launcher.verbatim === true,
      });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

function isOnPath(command: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}
