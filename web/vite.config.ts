// Builds the web app into web/dist, which the API server serves at `/`
// (src/http/web.ts). `npx vite web` runs a dev server; the app then talks to
// the API at VITE_API_URL (default http://localhost:8080; CORS is open there).
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // the players are loaded on demand, only on pages that play video
    chunkSizeWarningLimit: 800,
  },
  server: { port: 5173 },
});
