// The benches' page server: scripts/serve.mjs on a built bench page, with a folder of models
// under /models/; resolves once it prints its URL.
import { spawn, type ChildProcess } from 'node:child_process';

export async function serveSite(site: string, port: number, models: string): Promise<{ server: ChildProcess; url: string }> {
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
