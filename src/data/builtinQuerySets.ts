// The query sets shipped with the page (configs/queries), bundled as text by Vite.
import qmdEvalText from '../../configs/queries/qmd-eval.txt?raw';
import { parseQueryText, type QueryList } from './querySets.ts';

/** QMD's 21-query eval set, the one the Python eval script runs. */
export const QMD_EVAL_SET: QueryList = { ...parseQueryText(qmdEvalText, 'qmd-eval.txt'), name: 'QMD eval' };

export const BUILTIN_QUERY_SETS: readonly QueryList[] = [QMD_EVAL_SET];
