// The gift catalog: built-in defaults, or a JSON file / inline JSON array
// named by GIFT_CATALOG. Prices are integer coins. Loaded once at start-up; a
// bad catalog stops start-up with a message naming the problem.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface Gift {
  id: string;
  name: string;
  price: number;
  icon: string;
}

export const MAX_GIFT_PRICE = 1_000_000_000;

export const DEFAULT_GIFTS: readonly Gift[] = [
  { id: 'heart', name: 'Heart', price: 1, icon: '❤️' },
  { id: 'applause', name: 'Applause', price: 5, icon: '👏' },
  { id: 'rose', name: 'Rose', price: 10, icon: '🌹' },
  { id: 'coffee', name: 'Coffee', price: 30, icon: '☕' },
  { id: 'cake', name: 'Cake', price: 99, icon: '🎂' },
  { id: 'crown', name: 'Crown', price: 520, icon: '👑' },
  { id: 'rocket', name: 'Rocket', price: 1000, icon: '🚀' },
  { id: 'castle', name: 'Castle', price: 5000, icon: '🏰' },
];

export const giftIdPattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const catalogSchema = z
  .array(
    z.strictObject({
      id: z.string().regex(giftIdPattern, 'gift id must be 1 to 32 lowercase letters, digits, _ or -'),
      name: z.string().trim().min(1).max(32),
      price: z.number().int().min(1).max(MAX_GIFT_PRICE),
      icon: z.string().min(1).max(512),
    }),
  )
  .min(1)
  .refine((list) => new Set(list.map((g) => g.id)).size === list.length, 'gift ids must be unique');

export interface GiftCatalog {
  list(): readonly Gift[];
  get(id: string): Gift | undefined;
}

export function createGiftCatalog(gifts: readonly Gift[]): GiftCatalog {
  const byId = new Map(gifts.map((g) => [g.id, g]));
  return { list: () => gifts, get: (id) => byId.get(id) };
}

/** `setting` is empty (defaults), a JSON array, or the path of a JSON file holding one. */
export function loadGiftCatalog(setting: string): GiftCatalog {
  const trimmed = setting.trim();
  if (trimmed === '') return createGiftCatalog(DEFAULT_GIFTS);
  const text = trimmed.startsWith('[') ? trimmed : readFileSync(trimmed, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`GIFT_CATALOG is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = catalogSchema.safeParse(json);
  if (!parsed.success) throw new Error(`GIFT_CATALOG is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return createGiftCatalog(parsed.data);
}
