// What a first visit needs to know, in one line per view, each linking to the part of the help
// page (#/help/<section>) that explains it. A visitor who has read them hides the lines once;
// the Help entry in the nav stays.
import type { DraftStorage } from './draft.ts';
import type { Route } from './router.ts';

/** The parts of the help page, in page order; each is reachable as #/help/<id>. */
export const HELP_SECTIONS = [
  { id: 'qmd', title: 'What QMD and qmd-lab are' },
  { id: 'lines', title: 'lex, vec and hyde lines' },
  { id: 'profiles', title: 'The two scores: eval and reward' },
  { id: 'models', title: 'Models and adapters' },
  { id: 'datasets', title: 'Datasets' },
  { id: 'training', title: 'Training' },
  { id: 'results', title: 'Eval runs, results and share links' },
] as const;

export type HelpSection = (typeof HELP_SECTIONS)[number]['id'];

export interface HelpLine {
  text: string;
  section: HelpSection;
}

const LINES: Partial<Record<Route['view'], HelpLine>> = {
  playground: {
    text: 'QMD searches markdown notes with lex (keyword), vec (meaning) and hyde (sample passage) lines that a small model writes from your query; score your own lines here, or a model’s.',
    section: 'lines',
  },
  datasets: { text: 'Training data: each row pairs a query with the expansion the model should write.', section: 'datasets' },
  dataset: { text: 'Each row pairs a query with the expansion the model should write; its reward says how well that expansion scores.', section: 'datasets' },
  train: { text: 'Fine-tune a LoRA adapter on a dataset in this page, on your GPU; the base model stays as it is.', section: 'training' },
  grpo: { text: 'Reinforce what the reward profile scores well: the model samples, its samples are scored, a KL term keeps it near the SFT model.', section: 'training' },
  eval: { text: 'Run a model over a query set and score every expansion with both profiles, as QMD’s eval script does.', section: 'results' },
  results: { text: 'Stored eval runs and imported Python eval files, each scored by this page; open one to compare or share it.', section: 'results' },
  result: { text: 'Eval is the score QMD’s report prints (0–100 %); reward is what GRPO training maximises (0–1).', section: 'profiles' },
  share: { text: 'A shared result carries queries and expansions only: this page computed every score you see.', section: 'results' },
};

/** The line shown at the top of a view, or null (the help page itself, unknown pages). */
export function helpLine(view: Route['view']): HelpLine | null {
  return LINES[view] ?? null;
}

export const HELP_TIPS_KEY = 'qmd-lab.help-tips.v1';

/** Whether the visitor has hidden the help lines; a storage that cannot be read shows them. */
export function tipsHidden(storage: DraftStorage | undefined): boolean {
  try {
    return storage?.getItem(HELP_TIPS_KEY) === 'hidden';
  } catch {
    return false;
  }
}

/** Remembers the choice; false when the browser refused to store it (the lines then come back on reload). */
export function setTipsHidden(storage: DraftStorage | undefined, hidden: boolean): boolean {
  if (!storage) return false;
  try {
    if (hidden) storage.setItem(HELP_TIPS_KEY, 'hidden');
    else storage.removeItem(HELP_TIPS_KEY);
    return true;
  } catch {
    return false;
  }
}
