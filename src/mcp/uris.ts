// The resources' addresses. Ids and names are URI-encoded: a session name may hold dots and dashes only,
// but nothing a client sends is trusted to be URI-safe.

export const RESULT_TEMPLATE = 'warden://tasks/{id}/result';
export const LOGS_TEMPLATE = 'warden://tasks/{id}/logs';
export const PROVENANCE_TEMPLATE = 'warden://sessions/{session}/provenance';

export function resultUri(taskId: string): string {
  return `warden://tasks/${encodeURIComponent(taskId)}/result`;
}

export function logsUri(taskId: string): string {
  return `warden://tasks/${encodeURIComponent(taskId)}/logs`;
}

export function provenanceUri(session: string): string {
  return `warden://sessions/${encodeURIComponent(session)}/provenance`;
}
