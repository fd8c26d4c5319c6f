// Download rate smoothed over a few seconds, so the ETA the UI shows does not jump with every chunk.

export interface DownloadProgress {
  /** Bytes of the file stored so far, including those kept from an earlier attempt. */
  loaded: number;
  /** File size, null when the server did not announce it. */
  total: number | null;
  /** Bytes per second, exponentially smoothed; 0 until the first measurement. */
  rate: number;
  /** Seconds left at `rate`, null while unknown. */
  etaSeconds: number | null;
}

export class RateMeter {
  #rate = 0;
  #measured = false;
  #lastTime: number;
  #lastLoaded: number;

  /**
   * `tauSeconds` is the smoothing time constant: a sample `dt` seconds long weighs 1 − e^(−dt/τ),
   * so the estimate depends on elapsed time, not on how the bytes were chunked.
   */
  constructor(
    loaded: number,
    readonly total: number | null,
    private readonly now: () => number = () => performance.now(),
    private readonly tauSeconds = 3,
    private readonly minSampleSeconds = 0.1,
  ) {
    this.#lastTime = now();
    this.#lastLoaded = loaded;
  }

  /** Progress at `loaded` bytes; the rate is updated once at least minSampleSeconds have passed. */
  update(loaded: number): DownloadProgress {
    const time = this.now();
    const dt = (time - this.#lastTime) / 1000;
    if (dt >= this.minSampleSeconds) {
      const sample = (loaded - this.#lastLoaded) / dt;
      this.#rate = this.#measured ? this.#rate + (1 - Math.exp(-dt / this.tauSeconds)) * (sample - this.#rate) : sample;
      this.#measured = true;
      this.#lastTime = time;
      this.#lastLoaded = loaded;
    }
    const left = this.total === null ? null : Math.max(0, this.total - loaded);
    const etaSeconds = left === 0 ? 0 : left !== null && this.#rate > 0 ? left / this.#rate : null;
    return { loaded, total: this.total, rate: this.#rate, etaSeconds };
  }
}
