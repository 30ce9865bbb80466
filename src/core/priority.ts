/** Lower number runs first. Stored as this integer so the claim index orders by it directly. */
export const PRIORITIES = { critical: 0, high: 1, normal: 2, low: 3, background: 4 } as const;

export type PriorityName = keyof typeof PRIORITIES;
export type PriorityLevel = (typeof PRIORITIES)[PriorityName];

const NAMES = Object.keys(PRIORITIES) as PriorityName[];

export function priorityLevel(name: PriorityName): PriorityLevel {
  return PRIORITIES[name];
}

export function priorityName(level: number): PriorityName {
  return NAMES[level] ?? 'normal';
}

/** Accepts 'High', 'high' or 'HIGH' as people write them. */
export function parsePriority(value: string): PriorityName | undefined {
  const lower = value.toLowerCase();
  return (NAMES as string[]).includes(lower) ? (lower as PriorityName) : undefined;
}
