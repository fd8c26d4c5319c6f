// Any failure inside the worker as a structured error a user understands (protocol.ts codes).
// GPU and ORT failures arrive as plain Errors; their messages are the only signal of the kind.
import { EngineError, type EngineErrorData, type RequestType } from './protocol.ts';

const outOfMemory = /out of memory|\bOOM\b|failed to allocate|allocation failed|array buffer allocation/i;
const deviceLost = /device (was |is )?lost|GPUDevice.*destroyed/i;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function classifyError(error: unknown, request: RequestType, cancelled: boolean): EngineErrorData {
  if (error instanceof EngineError) return error.data();
  const message = describe(error);
  if (cancelled || (error instanceof DOMException && error.name === 'AbortError')) {
    return { code: 'cancelled', message: `${request} was cancelled` };
  }
  if (outOfMemory.test(message)) {
    return { code: 'oom', message: `out of memory during ${request}: ${message}. Try a smaller model or close other GPU tabs.` };
  }
  if (deviceLost.test(message)) return { code: 'device_lost', message: `the GPU device was lost: ${message}. Reload the model.` };
  // Parsing config.json, the tokenizer or the safetensors header fails with the file in the message.
  if (request === 'load-model') return { code: 'bad_model', message: `could not load the model: ${message}` };
  if (request === 'load-adapter') return { code: 'unsupported_adapter', message: `could not load the adapter: ${message}` };
  return { code: 'internal', message: `${request} failed: ${message}` };
}
