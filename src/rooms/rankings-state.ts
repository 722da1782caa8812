// The synchronized state of the `rankings` room: every board (3 boards x 4
// windows), keyed `<board>:<window>`, each with its top entries.
import { schema, t, type SchemaType } from '@colyseus/schema';

export const RankItem = schema(
  {
    id: t.string(),
    name: t.string(),
    score: t.number().default(0),
  },
  'RankItem',
);

export const RankBoard = schema(
  {
    board: t.string(),
    window: t.string(),
    updatedAt: t.string().default(''),
    items: t.array(RankItem),
  },
  'RankBoard',
);

export const RankingsState = schema(
  {
    boards: t.map(RankBoard),
  },
  'RankingsState',
);

export type RankingsState = SchemaType<typeof RankingsState>;
export type RankBoard = SchemaType<typeof RankBoard>;
export type RankItem = SchemaType<typeof RankItem>;

export const boardKey = (board: string, window: string) => `${board}:${window}`;
