import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where devicegate keeps its files: `$DEVICEGATE_HOME` if set; on Windows `%APPDATA%\devicegate`;
 * elsewhere (Linux, macOS, BSD) the XDG rule: `$XDG_CONFIG_HOME/devicegate` when that is an absolute
 * path (the XDG spec says to ignore a relative one), else `~/.config/devicegate`.
 */
export function configHome(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (env.DEVICEGATE_HOME) return resolve(env.DEVICEGATE_HOME);
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'devicegate');
  if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) return join(env.XDG_CONFIG_HOME, 'devicegate');
  return join(home, '.config', 'devicegate');
}
