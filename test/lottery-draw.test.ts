// The draw algorithm (docs/lotteries.md) as a specification: a fixed test
// vector (computed independently with Python's hashlib/hmac from the README's
// description), all-win when entrants are fewer than prizes, no duplicates,
// no visible bias, and verification that catches any altered input.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { draw, drawWinners, entriesHashOf, seedFor, seedHashOf, sortEntrants, verifyDraw } from '../src/domain/lottery-draw.ts';

const SEED = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const IDS = Array.from({ length: 10 }, (_, i) => `user-${String(i).padStart(2, '0')}`);

test('test vector: seed 00..1f, entrants user-00..user-09, 3 winners', () => {
  assert.equal(seedHashOf(SEED), '630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd');
  const r = draw(SEED, [...IDS].reverse(), 3);
  assert.deepEqual(r.sorted, IDS);
  assert.equal(r.entriesHash, 'eded043891bd98bf3cff1b78f31d32f466addfde7fdca3a4920ae03c5194b1dd');
  assert.deepEqual(r.winnerIds, ['user-08', 'user-05', 'user-00']);
});

test('entrants sort by UTF-8 bytes, whatever their script', () => {
  const ids = ['b', 'é', 'a', '\u{1F600}', '\uFF5E', 'A', 'ab'];
  const expected = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(sortEntrants(ids), expected);
  assert.equal(entriesHashOf(['a', 'b']), createHash('sha256').update('a\nb').digest('hex'));
});

test('fewer entrants than winners: everyone wins; none: nobody', () => {
  assert.deepEqual(drawWinners(SEED, entriesHashOf(IDS.slice(0, 3)), IDS.slice(0, 3), 5).sort(), IDS.slice(0, 3));
  assert.deepEqual(draw(SEED, [], 3).winnerIds, []);
});

test('winners are distinct entrants and the same inputs give the same winners', () => {
  const r = draw(SEED, IDS, 10);
  assert.equal(new Set(r.winnerIds).size, 10);
  assert.deepEqual(draw(SEED, IDS, 10).winnerIds, r.winnerIds);
});

test('no visible bias: over 3,000 seeds each of 3 entrants wins about a third of the time', () => {
  const ids = ['x', 'y', 'z'];
  const wins: Record<string, number> = { x: 0, y: 0, z: 0 };
  const n = 3000;
  for (let i = 0; i < n; i++) {
    const seed = createHash('sha256').update(`seed ${i}`).digest('hex');
    wins[draw(seed, ids, 1).winnerIds[0]!]!++;
  }
  // chi-square with 2 degrees of freedom; 13.8 is the 0.1% critical value
  const chi = Object.values(wins).reduce((s, w) => s + (w - n / 3) ** 2 / (n / 3), 0);
  assert.ok(chi < 13.8, `chi-square ${chi.toFixed(2)} (${JSON.stringify(wins)})`);
});

test('verifyDraw matches a real draw and catches an altered seed, entrant list or winner', () => {
  const r = draw(SEED, IDS, 3);
  const published = { seed: SEED, seedHash: seedHashOf(SEED), entriesHash: r.entriesHash, winners: 3, winnerIds: r.winnerIds, entrants: IDS };
  assert.equal(verifyDraw(published).match, true);
  assert.equal(verifyDraw({ ...published, seed: 'ff'.repeat(32) }).match, false);
  assert.equal(verifyDraw({ ...published, entrants: [...IDS, 'user-99'] }).match, false);
  assert.equal(verifyDraw({ ...published, winnerIds: [r.winnerIds[0]!, r.winnerIds[2]!, r.winnerIds[1]!] }).match, false, 'order matters');
  assert.equal(verifyDraw({ ...published, winnerIds: ['user-01', ...r.winnerIds.slice(1)] }).match, r.winnerIds[0] === 'user-01');
});

test('a seed, seedHash and winners replaced together pass alone, never against a commitment kept apart', () => {
  const honest = draw(SEED, IDS, 1);
  const committed = seedHashOf(SEED);
  // a seed chosen so that another entrant wins, with its own hash and winners: consistent in itself
  let forged = '';
  for (let i = 0; !forged; i++) {
    const s = createHash('sha256').update(`forge ${i}`).digest('hex');
    if (draw(s, IDS, 1).winnerIds[0] !== honest.winnerIds[0]) forged = s;
  }
  const f = draw(forged, IDS, 1);
  const tampered = { seed: forged, seedHash: seedHashOf(forged), entriesHash: f.entriesHash, winners: 1, winnerIds: f.winnerIds, entrants: IDS };
  assert.equal(verifyDraw(tampered).match, true, 'self-consistent: only a commitment kept apart can tell');
  const caught = verifyDraw({ ...tampered, commitments: [{ source: '--seed-hash', seedHash: committed }] });
  assert.equal(caught.match, false);
  assert.match(caught.checks.find((c) => !c.ok)!.name, /commitment in --seed-hash/);
  assert.equal(verifyDraw({ ...tampered, commitments: [{ source: 'the audit entry lottery.create', seedHash: null }] }).match, false, 'a missing record is no proof');
  const published = { seed: SEED, seedHash: committed, entriesHash: honest.entriesHash, winners: 1, winnerIds: honest.winnerIds, entrants: IDS };
  assert.equal(verifyDraw({ ...published, commitments: [{ source: '--seed-hash', seedHash: committed }] }).match, true);
  // the draw as the audit log recorded it must be the one published
  const record = { source: 'the audit entry lottery.draw', winnerIds: honest.winnerIds, entriesHash: honest.entriesHash };
  assert.equal(verifyDraw({ ...published, drawRecord: record }).match, true);
  assert.equal(verifyDraw({ ...published, winnerIds: f.winnerIds, drawRecord: record }).match, false);
});

test('seeds come from the lottery key and the lottery id: the same pair gives the same seed, any other pair another', () => {
  const key = 'k'.repeat(32);
  assert.match(seedFor(key, 'a'), /^[0-9a-f]{64}$/);
  assert.equal(seedFor(key, 'a'), seedFor(key, 'a'));
  assert.notEqual(seedFor(key, 'a'), seedFor(key, 'b'));
  assert.notEqual(seedFor(key, 'a'), seedFor('j'.repeat(32), 'a'));
});
