// The one error type a share link can produce, so the viewer can show every failure
// the same way; `kind` lets it offer the right next step (ask for the whole link, update…).

export type ShareErrorKind =
  | 'not_qmd_lab'
  | 'truncated'
  | 'corrupted'
  | 'too_large'
  | 'future_version'
  | 'invalid_payload';

export class ShareError extends Error {
  readonly kind: ShareErrorKind;

  constructor(kind: ShareErrorKind, message: string) {
    super(message);
    this.name = 'ShareError';
    this.kind = kind;
  }
}
