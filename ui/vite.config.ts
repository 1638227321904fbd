// Vite build of the web UI (run by bin/ui.js, never a dev server in production). Everything is
// bundled into hashed files under assets/: no CDN, no inline script, so the server's
// Content-Security-Policy can be `script-src 'self'`.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    // An inline polyfill script would need 'unsafe-inline'; every browser we support has modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
