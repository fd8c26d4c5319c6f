import { defineConfig } from '@playwright/test';

// Debian's Chromium, never a downloaded browser; WebGPU through SwiftShader so that CI
// (no GPU) runs the real WebGPU code paths.
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// E2E_PORT / E2E_DIST let several e2e runs (one per work tree or build) share a machine.
const PORT = Number(process.env.E2E_PORT ?? 4319);
const DIST = process.env.E2E_DIST ?? 'dist';

// Files that never load a model: page, storage and scoring work, a few seconds each, one file at a
// time beside two model files. The model files are bound by SwiftShader's compute on CI's two cores:
// two at once took each 1.6–2× as long and the whole e2e run ~10 % less (899 s against ~1,000 s,
// measured when the LM head was still a MatMul, ~1.4 s a decoded token; by rows it is ~9× faster),
// so their waits leave room for that. A new file runs with the model files unless it is listed here.
const PAGE_ONLY = ['abuse-import', 'abuse-share', 'dataset-split', 'datasets', 'keyboard', 'library', 'playground', 'results', 'shell', 'smoke'].map((name) => `**/${name}.e2e.ts`);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.e2e.ts',
  timeout: 180_000,
  workers: 3,
  projects: [
    { name: 'page', testMatch: PAGE_ONLY, workers: 1 },
    { name: 'model', testIgnore: PAGE_ONLY, workers: 2 },
  ],
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: {
    command: `node scripts/serve.mjs ${DIST} --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    env: { PORT: String(PORT) },
  },
});
