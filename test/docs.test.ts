// The documentation points only inside the repository, and at things that
// exist: every relative link of README.md and docs/*.md resolves to a file
// (and its #anchor to a heading), and every repository path a document or a
// source comment names in backquotes (`src/...`, `test/...`) exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';

const documents = ['README.md', ...readdirSync('docs').filter((n) => n.endsWith('.md')).map((n) => join('docs', n))];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (heading) out.add(heading[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'migrations' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

const repoPath = /`((?:src|test|loadtest|scripts|web|docs)\/[A-Za-z0-9_./-]+?\.(?:ts|js|md|json|sql))`/g;

describe('documentation', () => {
  test('every relative link resolves inside the repository', () => {
    const broken: string[] = [];
    for (const doc of documents) {
      const text = readFileSync(doc, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)|src="([^"]+)"/g)) {
        const target = m[1] ?? m[2]!;
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved = file === '' ? doc : join(dirname(doc), file);
        if (relative('.', resolved).startsWith('..')) broken.push(`${doc}: ${target} leaves the repository`);
        else if (!existsSync(resolved)) broken.push(`${doc}: ${target} does not exist`);
        else if (anchor && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${doc}: ${target} has no such heading`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test('every repository path named in the docs and in source comments exists', () => {
    const missing: string[] = [];
    for (const file of [...documents, ...sourceFiles('src'), ...sourceFiles('scripts'), ...sourceFiles('loadtest'), 'eslint.config.js']) {
      for (const [, path] of readFileSync(file, 'utf8').matchAll(repoPath)) {
        if (!existsSync(path!)) missing.push(`${file}: ${path}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  test('nothing cites a document outside the repository', () => {
    const outside: string[] = [];
    for (const file of [...documents, ...sourceFiles('src'), ...sourceFiles('scripts'), ...sourceFiles('loadtest'), ...sourceFiles('test'), ...sourceFiles('web/src'), 'eslint.config.js']) {
      if (file === join('test', 'docs.test.ts')) continue;
      const text = readFileSync(file, 'utf8');
      for (const name of ['API.md', 'STYLE.md', 'DESIGN.md', 'PITFALLS.md', '../shared']) {
        if (new RegExp(`(?<![\\w/])${name.replace(/[.]/g, '\\.')}`).test(text)) outside.push(`${file}: ${name}`);
      }
      if (/README "/.test(text)) outside.push(`${file}: cites a README section that moved to docs/`);
    }
    assert.deepEqual(outside, []);
  });
});
