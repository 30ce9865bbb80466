// Cortex memory (issue 16): a vector memory per session and per agent within it. See docs/memory.md.
export type {
  MemoryPort,
  MemoryRow,
  MemoryScope,
  NewMemory,
  ForgetReason,
  DeletedMemory,
} from './memory-port.js';
export { Cortex, memoryDir } from './cortex.js';
export type { MemoryItem, MemoryHit, PutMemory, SearchMemory, CortexParts } from './cortex.js';
export { compileMemoryOptions } from './options.js';
export type { MemoryOptions, CompiledMemoryOptions } from './options.js';
export { WardenMemory } from './warden-memory.js';
export type { SessionFinder, TenantOption, SucceededTask } from './warden-memory.js';
export { memoryQuery, inputWithMemories, rememberItems } from './retrieval.js';
export type { RetrievedMemory, RememberItem } from './retrieval.js';
