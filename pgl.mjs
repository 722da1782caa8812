import { PGlite } from '@electric-sql/pglite';
let t=Date.now(); const a = new PGlite(); await a.waitReady; console.log('mem init', Date.now()-t);
t=Date.now(); const dump = await a.dumpDataDir('none'); console.log('dump', Date.now()-t, dump.size);
t=Date.now(); const b = new PGlite({loadDataDir: dump}); await b.waitReady; console.log('load', Date.now()-t);
t=Date.now(); const c = new PGlite('/tmp/pgdir1'); await c.waitReady; console.log('dir init', Date.now()-t);
await c.close(); t=Date.now(); const d = new PGlite('/tmp/pgdir1'); await d.waitReady; console.log('dir reopen', Date.now()-t);
