// `npm run -s qmd -- <command> ...`: one entry point, one module per command.
type Command = { main(args: string[]): Promise<number> };

const commands: Record<string, () => Promise<Command>> = {
  score: () => import('./score.ts'),
  logits: () => import('./logits.ts'),
  expand: () => import('./expand.ts'),
  train: () => import('./train.ts'),
  grpo: () => import('./grpo.ts'),
  data: () => import('./data.ts'),
  export: () => import('./export.ts'),
  retrieve: () => import('./retrieve.ts'),
  'export-data': () => import('./export-data.ts'),
};

const [commandName, ...commandArgs] = process.argv.slice(2);
const loader = commandName ? commands[commandName] : undefined;
if (!loader) {
  process.stderr.write(`usage: qmd <${Object.keys(commands).join('|')}> [args]\n`);
  process.exit(2);
}
loader()
  .then((command) => command.main(commandArgs))
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`qmd ${commandName}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
