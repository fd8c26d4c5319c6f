// The benches' page server: scripts/serve.mjs on a built bench page, with a folder of models
// under /models/; resolves once it prints its URL. openBench builds the page, serves it and starts
// the browser, as every bench page's run.ts does.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config.ts';

async function serveSite(site: string, port: number, models: string): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, ['scripts/serve.mjs', site, '--port', String(port), '--mount', `/models=${models}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    server.once('exit', (code) => fail(new Error(`scripts/serve.mjs exited with ${code}`)));
    server.stdout!.once('data', (line: Buffer) => {
      const found = /http:\/\/\S+/.exec(line.toString());
      if (found) done(found[0]);
      else fail(new Error(`scripts/serve.mjs printed no URL: ${line.toString()}`));
    });
  });
  return { server, url };
}

/** bench/<name> built into `site`, served on `port` with `models` under /models/, and headless Debian Chromium (CHROMIUM overrides) started. */
export async function openBench(name: string, site: string, port: number, models: string): Promise<{ browser: Browser; url: string; close: () => Promise<void> }> {
  await build({ configFile: false, root: resolve('bench', name), base: './', logLevel: 'warn', build: { outDir: site, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192 } });
  const { server, url } = await serveSite(site, port, models);
  try {
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
    return { browser, url, close: async () => (await browser.close(), void server.kill()) };
  } catch (error) {
    server.kill();
    throw error;
  }
}
