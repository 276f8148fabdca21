/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The gateway serves web/dist under a strict Content-Security-Policy
// (default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self';
// img-src 'self' data:): everything must be a file of its own, nothing inline.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Never turn assets (fonts above all) into data: URIs, which font-src
    // 'self' refuses, and never inline the module preload polyfill script.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` against a local gateway (make run): the API, the login
    // routes and the event stream are same-origin through this proxy.
    proxy: {
      '/api': 'http://localhost:8080',
      '/auth': 'http://localhost:8080',
      '/ws': { target: 'ws://localhost:8080', ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
