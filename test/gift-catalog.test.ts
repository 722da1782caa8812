import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_GIFTS, loadGiftCatalog } from '../src/domain/gift-catalog.ts';
import { splitGift } from '../src/domain/ledger.ts';

test('the built-in catalog is used when GIFT_CATALOG is empty', () => {
  const c = loadGiftCatalog('');
  assert.deepEqual(c.list(), DEFAULT_GIFTS);
  assert.equal(c.get('rose')?.price, 10);
  assert.equal(c.get('nope'), undefined);
});

test('GIFT_CATALOG takes inline JSON or a file, and refuses bad catalogs', async () => {
  const inline = loadGiftCatalog('[{"id":"star","name":"Star","price":7,"icon":"⭐"}]');
  assert.deepEqual(inline.list(), [{ id: 'star', name: 'Star', price: 7, icon: '⭐' }]);
  const dir = await mkdtemp(path.join(tmpdir(), 'catalog-'));
  try {
    const file = path.join(dir, 'gifts.json');
    await writeFile(file, JSON.stringify([{ id: 'moon', name: 'Moon', price: 3, icon: '/icons/moon.png' }]));
    assert.equal(loadGiftCatalog(file).get('moon')?.price, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  for (const bad of [
    '[',
    '[]',
    '[{"id":"a","name":"A","price":1.5,"icon":"x"}]',
    '[{"id":"a","name":"A","price":0,"icon":"x"}]',
    '[{"id":"a","name":"A","price":-1,"icon":"x"}]',
    '[{"id":"a","name":"A","price":"1","icon":"x"}]',
    '[{"id":"A B","name":"A","price":1,"icon":"x"}]',
    '[{"id":"a","name":"A","price":1,"icon":"x"},{"id":"a","name":"B","price":2,"icon":"y"}]',
    '[{"id":"a","name":"A","price":1,"icon":"x","extra":1}]',
  ]) {
    assert.throws(() => loadGiftCatalog(bad), /GIFT_CATALOG/, bad);
  }
});

test('a gift splits into the streamer share rounded down and the rest to the platform', () => {
  assert.deepEqual(splitGift(30, 50), { streamer: 15, platform: 15 });
  assert.deepEqual(splitGift(3, 50), { streamer: 1, platform: 2 });
  assert.deepEqual(splitGift(1, 50), { streamer: 0, platform: 1 });
  assert.deepEqual(splitGift(99, 70), { streamer: 69, platform: 30 });
  assert.deepEqual(splitGift(10, 100), { streamer: 10, platform: 0 });
  assert.deepEqual(splitGift(10, 0), { streamer: 0, platform: 10 });
  for (let amount = 1; amount < 500; amount += 7) {
    for (const pct of [0, 1, 33, 50, 99, 100]) {
      const s = splitGift(amount, pct);
      assert.equal(s.streamer + s.platform, amount);
      assert.ok(Number.isInteger(s.streamer) && s.streamer >= 0 && s.platform >= 0);
    }
  }
});
