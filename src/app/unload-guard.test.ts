import { describe, expect, it } from 'vitest';
import { UnloadGuard } from './unload-guard.ts';

describe('UnloadGuard', () => {
  it('listens for beforeunload only while work runs, and cancels the unload then', () => {
    const target = new EventTarget();
    const guard = new UnloadGuard(target as unknown as Window);
    // Node's Event has no settable returnValue; a BeforeUnloadEvent's is.
    const unload = () => {
      const event = Object.defineProperty(new Event('beforeunload', { cancelable: true }), 'returnValue', { value: true, writable: true });
      target.dispatchEvent(event);
      return event.defaultPrevented && (event as BeforeUnloadEvent).returnValue === '';
    };
    expect(unload()).toBe(false);
    const training = guard.hold('training');
    const evalRun = guard.hold('eval run');
    expect(guard.running).toEqual(['training', 'eval run']);
    expect(unload()).toBe(true);
    training();
    training(); // a second release of the same hold does not release the eval's
    expect(guard.running).toEqual(['eval run']);
    expect(unload()).toBe(true);
    evalRun();
    expect(guard.running).toEqual([]);
    expect(unload()).toBe(false);
  });
});
