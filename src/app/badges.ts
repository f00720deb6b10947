/**
 * Badge layouts from configuration: the layouts credential profiles name
 * must exist, and the image files layouts place must be PNG or JPEG files
 * within badges.maxImageBytes that decode. Both `credgate config check` and
 * start-up run these checks (config-check.ts, gateway.ts); at start the
 * files are kept as re-encoded, so what the app receives carries none of the
 * files' metadata.
 */
import { readFileSync, statSync } from 'node:fs';
import { sizeBytes } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { PreparedLayout } from '../identity/badge-render.js';
import { cleanImage, ImageRefused, type CleanImage } from '../identity/images.js';
import { refuse, type SettingProblem } from './errors.js';

/** Every layout a credential profile names is configured. */
export function badgeProfileProblems(config: Config): SettingProblem[] {
  const layouts = Object.keys(config.badges.layouts);
  return Object.entries(config.credentialProfiles).flatMap(([name, p]) =>
    (p.badges?.layouts ?? []).flatMap((layout, i): SettingProblem[] =>
      Object.hasOwn(config.badges.layouts, layout)
        ? []
        : [
            {
              path: ['credentialProfiles', name, 'badges', 'layouts', i],
              message: `credentialProfiles.${name}.badges.layouts[${i}]: no badge layout named "${layout}" (configured: ${layouts.join(', ') || 'none; add them under badges.layouts'})`,
            },
          ],
    ),
  );
}

/** Reads, checks and re-encodes one layout image file. */
async function readLayoutImage(file: string, maxBytes: number): Promise<CleanImage> {
  let size: number;
  try {
    const s = statSync(file);
    if (!s.isFile()) throw new ImageRefused(`${file} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof ImageRefused) throw err;
    throw new ImageRefused(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (size > maxBytes) throw new ImageRefused(`${file} is ${size} bytes; badges.maxImageBytes allows ${maxBytes}`);
  try {
    // Pixels: the badge itself is at most 2000 x 4000.
    return await cleanImage(readFileSync(file), { maxBytes, maxPixels: 8_000_000 });
  } catch (err) {
    if (err instanceof ImageRefused) throw new ImageRefused(`${file}: ${err.message}`);
    throw err;
  }
}

/** The layouts with their image files read; `problems` names each file that cannot be used. */
export async function prepareBadgeLayouts(config: Config): Promise<{ layouts: Record<string, PreparedLayout>; problems: SettingProblem[] }> {
  const maxBytes = sizeBytes(config.badges.maxImageBytes);
  const problems: SettingProblem[] = [];
  const layouts: Record<string, PreparedLayout> = {};
  for (const [name, layout] of Object.entries(config.badges.layouts)) {
    const images = new Map<number, CleanImage>();
    for (const [i, e] of layout.elements.entries()) {
      if (e.type !== 'image') continue;
      try {
        images.set(i, await readLayoutImage(e.file, maxBytes));
      } catch (err) {
        if (!(err instanceof ImageRefused)) throw err;
        problems.push({ path: ['badges', 'layouts', name, 'elements', i, 'file'], message: `badges.layouts.${name}.elements[${i}].file: ${err.message}` });
      }
    }
    layouts[name] = { name, layout, images };
  }
  return { layouts, problems };
}

/** What `config check` reports about badges, placed like every other problem. */
export async function badgeProblems(config: Config): Promise<SettingProblem[]> {
  return [...badgeProfileProblems(config), ...(await prepareBadgeLayouts(config)).problems];
}

/** The layouts start-up serves; it stops on any problem. */
export async function loadBadgeLayouts(config: Config): Promise<Record<string, PreparedLayout>> {
  refuse(badgeProfileProblems(config));
  const { layouts, problems } = await prepareBadgeLayouts(config);
  refuse(problems);
  return layouts;
}
