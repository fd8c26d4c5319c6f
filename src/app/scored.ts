// Breakdowns in the playground: of the editor's text, and of each model output, which is kept
// with the query it was generated for and always scored against that query, whatever the query
// box holds since. The scorers refuse text past their limits (src/scoring/limits.ts); the page
// shows the refusal instead of failing.
import { explain, ScoringLimitError, type Explanation } from '../scoring/index.ts';

export type Scored = { explanation: Explanation; refused: null } | { explanation: null; refused: string };

export function scoreText(query: string, expansion: string): Scored {
  try {
    return { explanation: explain(query, expansion), refused: null };
  } catch (error) {
    if (error instanceof ScoringLimitError) return { explanation: null, refused: error.message };
    throw error;
  }
}

/** A model's output with the query it answers. */
export interface GeneratedText {
  query: string;
  text: string;
  done: boolean;
  error: string | null;
}

/** Scored once the generation has finished without error; null before (a partial output is not what the model says). */
export function scoreGenerated(generated: GeneratedText): Scored | null {
  return generated.done && generated.error === null ? scoreText(generated.query, generated.text) : null;
}
