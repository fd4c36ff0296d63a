// Part of `npm run build`: the inspector page's static files next to its compiled script
// (tsc -p inspector-page/tsconfig.json writes dist/inspector-page/*.js).
import { copyFileSync, mkdirSync } from 'node:fs';

const from = new URL('./', import.meta.url);
const to = new URL('../dist/inspector-page/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const file of ['index.html', 'style.css', 'favicon.svg']) copyFileSync(new URL(file, from), new URL(file, to));
