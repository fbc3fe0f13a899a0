// Loads an optional native addon built from native/<name> by `npm ci` (scripts/build-native.sh). Each one
// only makes something faster; callers keep a portable path for when it is absent (no compiler, another
// architecture, or a build that failed).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package root: the nearest directory above this file that holds package.json (src/ or dist/src/). */
function packageRoot(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Where native/<name>'s addon is expected (for messages and tests). */
export function nativeAddonPath(name: string): string | undefined {
  const root = packageRoot();
  return root ? path.join(root, 'native', name, 'build', 'Release', `${name}.node`) : undefined;
}

/** The addon's exports, or undefined when it is not built or does not load. */
export function loadNativeAddon(name: string): Record<string, unknown> | undefined {
  const file = nativeAddonPath(name);
  if (!file || !fs.existsSync(file)) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
