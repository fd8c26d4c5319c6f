// Result shapes of QMD's two scorers, with exactly the field names of spec/scoring.md
// (the Python tools' JSON), so results compare with `deepEqual` against the fixtures.

export type Profile = 'eval' | 'reward';

export type Rating = 'Excellent' | 'Good' | 'Acceptable' | 'Poor' | 'Failed';

export interface Parsed {
  lex: string[];
  vec: string[];
  hyde: string[];
  invalid: string[];
}

export interface EvalScore {
  format: number;
  diversity: number;
  hyde: number;
  quality: number;
  deductions: string[];
  total: number;
  max_possible: number;
  percentage: number;
  rating: Rating;
  parsed: Parsed;
  is_continuation: boolean;
}

export interface RewardBreakdown {
  format: number;
  diversity: number;
  hyde: number;
  quality: number;
  entity: number;
  total: number;
  max_possible: number;
  reward: number;
}

export interface RewardHardFail {
  hard_fail: true;
  reward: 0;
}

export type RewardScore = RewardBreakdown | RewardHardFail;
