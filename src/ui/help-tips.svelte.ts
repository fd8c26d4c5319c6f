// Whether the one-line help tips at the top of each view are shown: one owner for the tip
// (src/ui/HelpTip.svelte) and the help page's "show them again".
import { pageStorage } from '../app/draft.ts';
import { setTipsHidden, tipsHidden } from '../app/help.ts';

const storage = pageStorage();

export const helpTips = $state({ hidden: tipsHidden(storage) });

export function hideHelpTips(hidden: boolean): void {
  helpTips.hidden = hidden;
  setTipsHidden(storage, hidden);
}
