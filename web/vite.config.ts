/**
 * The web application's build: `vite build --config web/vite.config.ts` writes it to dist/web, next
 * to (not inside) the server's compiled output, and the service serves that folder at `/`.
 * `vite --config web/vite.config.ts` is the dev server; it proxies /api to a running service
 * (REELIN_DEV_API, default http://127.0.0.1:8080).
 */
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const webRoot = import.meta.dirname;

export default defineConfig({
  root: webRoot,
  plugins: [react()],
  build: {
    outDir: path.join(webRoot, '..', 'dist', 'web'),
    emptyOutDir: true,
    // Hashed names under assets/ are served as immutable; index.html is not.
    assetsDir: 'assets',
    sourcemap: true,
  },
  server: {
    proxy: {
      // The dev server is a development tool run by hand; it reads its own setting, not the service's config.
      '/api': process.env.REELIN_DEV_API ?? 'http://127.0.0.1:8080',
    },
  },
});
