import { useEffect, useRef } from 'preact/hooks';
import { formatTime } from '../components';
import type { LogLine } from './task-types';

/**
 * The task's log lines as they arrive: stderr in red, Warden's own events muted, each with its attempt.
 * Follows the end while the reader is there; scrolling up stops following until they come back down.
 */
export function TaskLogs({ lines, waiting }: { lines: readonly LogLine[]; waiting: boolean }) {
  const pre = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  useEffect(() => {
    const el = pre.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  return (
    <pre
      class="log task-logs"
      data-testid="task-logs"
      ref={pre}
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.length === 0 && <span class="event">{waiting ? 'Waiting for output…' : 'No log lines.'}</span>}
      {lines.map((l) => (
        <div
          key={`${l.attempt}:${l.line}`}
          class={`line ${l.stream}`}
          data-stream={l.stream}
          data-attempt={l.attempt}
        >
          <span class="meta" title={formatTime(l.at)}>
            #{l.attempt} {l.stream === 'stderr' ? 'err' : l.stream === 'stdout' ? 'out' : '···'}
          </span>
          {l.message}
        </div>
      ))}
    </pre>
  );
}
