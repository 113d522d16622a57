// Vite build of the dmp web UI: plain ES modules, no framework, no CDN. The output in
// web/dist is served by `dmp serve` at / (see docs/catalog.md).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2020',
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8181', '/openapi': 'http://127.0.0.1:8181' },
  },
});
