import { describe, expect, it } from 'vitest';
import { MAX_NOTE_BYTES, MAX_NOTES, MAX_NOTES_TOTAL_BYTES } from './limits.ts';
import { makeNote, NoteBudget, noteHash, noteTitle } from './notes.ts';

describe('noteTitle (QMD extractTitle for markdown)', () => {
  it('takes the first # or ## heading, else the file name', () => {
    expect(noteTitle('intro\n## Second level\n# First level', 'docs/a.md')).toBe('Second level');
    expect(noteTitle('# API Design Principles\n\ntext', 'docs/a.md')).toBe('API Design Principles');
    expect(noteTitle('### too deep\nplain', 'docs/sub/my-note.md')).toBe('my-note');
    expect(noteTitle('', 'notes.md')).toBe('notes');
  });
  it('skips a daily-note "Notes" heading for the first ## one', () => {
    expect(noteTitle('# 📝 Notes\n## Standup\n', 'd.md')).toBe('Standup');
    expect(noteTitle('# Notes\nno second', 'd.md')).toBe('Notes');
  });
});

describe('NoteBudget', () => {
  it('admits .md files, skips other files and too large notes with a reason', () => {
    const budget = new NoteBudget();
    expect(budget.admit('docs/a.md', 10)).toBe(true);
    expect(budget.admit('docs/A.MD', 10)).toBe(true);
    expect(budget.admit('docs/image.png', 10)).toBe(false);
    expect(budget.admit('docs/.hidden.md', 10)).toBe(false);
    expect(budget.admit('docs/.obsidian/x.md', 10)).toBe(false);
    expect(budget.admit('docs/sub/node_modules/pkg/README.md', 10)).toBe(false);
    expect(budget.admit('.notes/sub/ok.md', 10)).toBe(true);
    expect(budget.admit('docs/huge.md', MAX_NOTE_BYTES + 1)).toBe(false);
    expect(budget.skipped).toEqual([{ path: 'docs/huge.md', reason: `${(MAX_NOTE_BYTES + 1).toLocaleString('en-US')} bytes; notes of at most ${MAX_NOTE_BYTES.toLocaleString('en-US')} bytes are indexed` }]);
  });
  it('refuses a folder past the note count or total size, and a repeated path', () => {
    const budget = new NoteBudget();
    for (let i = 0; i < MAX_NOTES; i++) budget.admit(`n/${i}.md`, 1);
    expect(() => budget.admit('n/one-more.md', 1)).toThrow(`more than ${MAX_NOTES.toLocaleString('en-US')} notes`);
    const big = new NoteBudget();
    for (let i = 0; i < MAX_NOTES_TOTAL_BYTES / MAX_NOTE_BYTES; i++) big.admit(`b/${i}.md`, MAX_NOTE_BYTES);
    expect(() => big.admit('b/last.md', 1)).toThrow('at b/last.md');
    const twice = new NoteBudget();
    twice.admit('x.md', 1);
    expect(() => twice.admit('x.md', 1)).toThrow('x.md: the same path twice');
  });
});

describe('noteHash', () => {
  it('changes with the text, the title or the path', async () => {
    const base = await noteHash(makeNote('a.md', '# T\nbody'));
    expect(await noteHash(makeNote('a.md', '# T\nbody'))).toBe(base);
    expect(await noteHash(makeNote('a.md', '# T\nbody!'))).not.toBe(base);
    expect(await noteHash(makeNote('b.md', '# T\nbody'))).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });
});
