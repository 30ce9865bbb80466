import { describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { decodeInviteToken } from '../../src/edge/index.js';
import { openWarden } from '../helpers.js';

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
});
