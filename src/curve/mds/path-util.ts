// Volume path validation and splitting: absolute, '/'-separated, no empty/'.'/'..' components.

const MAX_COMPONENT = 255;
const MAX_PATH = 4096;

/** Components of an absolute path, or undefined when it is not a valid path ('/' gives []). */
export function splitPath(path: string): string[] | undefined {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_PATH) return undefined;
  if (path === '/') return [];
  const parts = path.replace(/\/+$/, '').split('/').slice(1);
  for (const p of parts) {
    if (p.length === 0 || p.length > MAX_COMPONENT || p === '.' || p === '..') return undefined;
    // control characters would make keys and listings ambiguous
    if (/[\u0000-\u001f\u007f]/.test(p)) return undefined;
  }
  return parts;
}

export const joinPath = (parts: string[]): string => '/' + parts.join('/');
