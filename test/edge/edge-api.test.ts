import { describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlaneState, decodeInviteToken } from '../../src/edge/index.js';
import { openWarden, tempDir } from '../helpers.js';

// Issue 15: the edge routes are for installation admins; their input is checked; answers are coded.

describe('edge API routes', () => {
  it('invite, list and revoke need an installation admin key, and say what is wrong', async () => {
    const warden = await openWarden({ workers: false });
    const app = await buildServer(warden, { logger: false, rateLimit: false });
    try {
      const installation = (
        await createApiKey(warden.apiKeys, {
          tenant: 'default',
          role: 'admin',
          name: 'i',
          installation: true,
        })
      ).key;
      const tenantAdmin = (await createApiKey(warden.apiKeys, { tenant: 'acme', role: 'admin', name: 'a' }))
        .key;
      const as = (key: string) => ({ authorization: `Bearer ${key}` });

      const created = await app.inject({
        method: 'POST',
        url: '/edge/invites',
        headers: as(installation),
        payload: { capabilities: ['gpu'], maxConcurrency: 3, expiresInSeconds: 600 },
      });
      expect(created.statusCode).toBe(201);
      const body = created.json<{ token: string; invite: { id: string; maxConcurrency: number } }>();
      const token = decodeInviteToken(body.token);
      expect(token.grant).toMatchObject({ id: body.invite.id, capabilities: ['gpu'], maxConcurrency: 3 });
      expect(token.grant.expiresAt - Date.now()).toBeGreaterThan(590_000);

      const refused = await app.inject({
        method: 'POST',
        url: '/edge/invites',
        headers: as(tenantAdmin),
        payload: {},
      });
      expect(refused.statusCode).toBe(403);
      const bad = await app.inject({
        method: 'POST',
        url: '/edge/invites',
        headers: as(installation),
        payload: { maxConcurrency: 0 },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: { code: string } }>().error.code).toBe('INVALID_INPUT');

      const list = await app.inject({ method: 'GET', url: '/edge/nodes', headers: as(installation) });
      expect(list.json()).toEqual({ nodes: [] });
      const missing = await app.inject({
        method: 'DELETE',
        url: '/edge/nodes/wn1_00',
        headers: as(installation),
      });
      expect(missing.statusCode).toBe(404);
      expect(missing.json<{ error: { code: string } }>().error.code).toBe('EDGE_NODE_NOT_FOUND');
    } finally {
      await app.close();
    }
  });

  it('two processes opening a new control plane at once end up with one identity and one swarm', async () => {
    const dir = join(tempDir(), 'edge');
    const opened = await Promise.all(Array.from({ length: 8 }, () => ControlPlaneState.open(dir)));
    expect(new Set(opened.map((s) => s.identity.nodeId)).size).toBe(1);
    expect(new Set(opened.map((s) => s.swarmId)).size).toBe(1);
    expect(statSync(join(dir, 'control-plane.key.json')).mode & 0o777).toBe(0o600);
  });
});
