// The UI's handle on the engine worker: one promise per request, events through a callback,
// cancellation through an AbortSignal. A crashed worker or a lost GPU device rejects what was
// pending with a structured error and is reported to `onFailure`; `restart()` starts afresh.
import {
  EngineError,
  type EngineErrorData,
  type EngineEvent,
  type FromWorker,
  type Request,
  type Results,
  type ToWorker,
} from './protocol.ts';

export interface CallOptions {
  signal?: AbortSignal;
  /** For a train or grpo request: its abort asks the run to pause after the step in flight. */
  pause?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
  /** Buffers of the request handed to the worker instead of copied (a checkpoint's tensors); they are unusable here after. */
  transfer?: Transferable[];
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: EngineError): void;
  onEvent?: (event: EngineEvent) => void;
}

export class EngineClient {
  #worker: Worker;
  #nextId = 1;
  /** Set when the worker crashed or lost its device: calls fail at once with it until restart(). */
  #failed: EngineErrorData | null = null;
  readonly #pending = new Map<number, Pending>();

  /**
   * `createWorker` makes the engine worker (Vite bundles it from the `new Worker(new URL(...))` at
   * the call site); `onFailure` hears of crashes and lost devices, after which models must be reloaded.
   */
  constructor(
    private readonly createWorker: () => Worker,
    private readonly onFailure: (error: EngineErrorData) => void = () => {},
  ) {
    this.#worker = this.#start();
  }

  #start(): Worker {
    const worker = this.createWorker();
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail({ code: 'crashed', message: `the engine worker crashed (${event.message || 'no details'}); reload the model to continue` });
    };
    worker.onmessageerror = () => this.#fail({ code: 'internal', message: 'the engine worker sent a message that could not be read' });
    return worker;
  }

  #receive(message: FromWorker): void {
    if (message.kind === 'device-lost') {
      this.#fail(message.error);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    if (message.kind === 'event') {
      pending.onEvent?.(message.event);
      return;
    }
    this.#pending.delete(message.id);
    if (message.kind === 'result') pending.resolve(message.result);
    else pending.reject(new EngineError(message.error.code, message.error.message, message.error.damaged));
  }

  #rejectAll(error: EngineErrorData): void {
    for (const pending of this.#pending.values()) pending.reject(new EngineError(error.code, error.message, error.damaged));
    this.#pending.clear();
  }

  #fail(error: EngineErrorData): void {
    this.#failed = error;
    this.#rejectAll(error);
    this.onFailure(error);
  }

  call<T extends Request>(request: T, options: CallOptions = {}): Promise<Results[T['type']]> {
    const { signal, pause, onEvent } = options;
    if (signal?.aborted) return Promise.reject(new EngineError('cancelled', `${request.type} was cancelled`));
    if (this.#failed) return Promise.reject(new EngineError(this.#failed.code, this.#failed.message));
    const id = this.#nextId++;
    return new Promise<Results[T['type']]>((resolve, reject) => {
      const cancel = () => this.#post({ id: this.#nextId++, request: { type: 'cancel', target: id } });
      const pauseRun = () => this.#post({ id: this.#nextId++, request: { type: 'pause', target: id } });
      signal?.addEventListener('abort', cancel, { once: true });
      pause?.addEventListener('abort', pauseRun, { once: true });
      const done = () => (signal?.removeEventListener('abort', cancel), pause?.removeEventListener('abort', pauseRun));
      this.#pending.set(id, {
        resolve: (result) => (done(), resolve(result as Results[T['type']])),
        reject: (error) => (done(), reject(error)),
        onEvent,
      });
      this.#post({ id, request }, options.transfer);
      // A pause asked for while the page was still preparing the request (reading IndexedDB) came before the listener could hear it.
      if (pause?.aborted) pauseRun();
    });
  }

  #post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Ends the worker (dropping every model) and starts a new one. */
  restart(): void {
    this.#worker.terminate();
    this.#rejectAll({ code: 'cancelled', message: 'the engine was restarted' });
    this.#failed = null;
    this.#worker = this.#start();
  }

  dispose(): void {
    this.#worker.terminate();
    this.#rejectAll({ code: 'cancelled', message: 'the engine was closed' });
  }
}
