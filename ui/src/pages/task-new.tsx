import { useState } from 'preact/hooks';
import { api } from '../api';
import { Card, ErrorBanner } from '../components';
import { useAction } from '../hooks';
import { PRIORITIES, type Session, type Task } from './task-types';

/** Parses the input box: empty is no input (null); anything else must be JSON. */
export function parseInput(text: string): { value: unknown } | { problem: string } {
  if (!text.trim()) return { value: null };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { problem: `The input is not valid JSON: ${(err as Error).message}` };
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Submits a task (POST /sessions/:id/execute), to an existing session or a new one (POST /sessions), to a
 * named agent or by intent (semantic routing picks the agent).
 */
export function NewTaskForm({
  sessions,
  agents,
  onSubmitted,
  onCancel,
}: {
  sessions: Session[];
  agents: string[];
  onSubmitted: (task: Task) => void;
  onCancel: () => void;
}) {
  const [session, setSession] = useState('');
  const [newSession, setNewSession] = useState('');
  const [target, setTarget] = useState<'agent' | 'intent'>('agent');
  const [agent, setAgent] = useState('');
  const [intent, setIntent] = useState('');
  const [input, setInput] = useState('{}');
  const [priority, setPriority] = useState('normal');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  // The lists may arrive after the form opened: until a choice is made, the first entry is the choice.
  const sessionValue = session || sessions[0]?.id || '';
  const agentValue = agent || agents[0] || '';

  const submit = useAction(async () => {
    const parsed = parseInput(input);
    if ('problem' in parsed) {
      setProblem(parsed.problem);
      return undefined;
    }
    const name = newSession.trim();
    if (name && !NAME.test(name)) {
      setProblem('A session name is letters, digits, dots, dashes and underscores (at most 128).');
      return undefined;
    }
    if (!name && !sessionValue) {
      setProblem('Pick a session or name a new one.');
      return undefined;
    }
    if (target === 'agent' ? !agentValue : !intent.trim()) {
      setProblem(target === 'agent' ? 'Pick an agent.' : 'Say what the task is for.');
      return undefined;
    }
    setProblem(undefined);
    const sessionId = name ? (await api.post<Session>('/sessions', { name })).id : sessionValue;
    const { task } = await api.post<{ task: Task }>(`/sessions/${encodeURIComponent(sessionId)}/execute`, {
      ...(target === 'agent' ? { agent: agentValue } : { intent: intent.trim() }),
      input: parsed.value,
      priority,
    });
    onSubmitted(task);
    return task;
  });

  return (
    <Card title="New task">
      <form
        class="new-task"
        data-testid="new-task-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <div class="new-task-row">
          <label>
            Session
            <select
              name="session"
              value={sessionValue}
              disabled={newSession.trim() !== ''}
              onChange={(e) => setSession((e.target as HTMLSelectElement).value)}
            >
              {sessions.length === 0 && <option value="">(none yet)</option>}
              {sessions.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            or a new session
            <input
              name="newSession"
              placeholder="name"
              value={newSession}
              onInput={(e) => setNewSession((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Priority
            <select
              name="priority"
              value={priority}
              onChange={(e) => setPriority((e.target as HTMLSelectElement).value)}
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div class="new-task-row">
          <fieldset class="segmented">
            <legend class="muted">Run by</legend>
            <label class="inline">
              <input
                type="radio"
                name="target"
                value="agent"
                checked={target === 'agent'}
                onChange={() => setTarget('agent')}
              />
              agent
            </label>
            <label class="inline">
              <input
                type="radio"
                name="target"
                value="intent"
                checked={target === 'intent'}
                onChange={() => setTarget('intent')}
              />
              intent
            </label>
          </fieldset>
          {target === 'agent' ? (
            <label class="grow">
              Agent
              <select
                name="agent"
                value={agentValue}
                onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}
              >
                {agents.length === 0 && <option value="">(no agents registered)</option>}
                {agents.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <label class="grow">
              Intent (semantic routing picks the agent)
              <input
                name="intent"
                placeholder="count the words in this text"
                value={intent}
                onInput={(e) => setIntent((e.target as HTMLInputElement).value)}
              />
            </label>
          )}
        </div>
        <label>
          Input (JSON)
          <textarea
            name="input"
            rows={6}
            spellcheck={false}
            value={input}
            aria-invalid={problem?.startsWith('The input') ? true : undefined}
            onInput={(e) => {
              setInput((e.target as HTMLTextAreaElement).value);
              setProblem(undefined);
            }}
          />
        </label>
        {problem && (
          <div class="banner error" role="alert" data-testid="new-task-problem">
            <span>{problem}</span>
          </div>
        )}
        <ErrorBanner error={submit.error} onDismiss={submit.clear} />
        <div class="actions">
          <button class="primary" type="submit" data-testid="submit-task" disabled={submit.pending}>
            {submit.pending ? 'Submitting…' : 'Submit'}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </Card>
  );
}
