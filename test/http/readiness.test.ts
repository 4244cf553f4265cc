import { describe, expect, it } from 'vitest';
import { readinessRoute } from '../../src/http/readiness.js';

describe('/readyz', () => {
  it('answers 200 once the database answers', async () => {
    const response = await readinessRoute(async () => [{ 1: 1 }])();
    expect(response.status).toBe(200);
  });

  it('answers 503 with the reason while the database does not', async () => {
    const response = await readinessRoute(() => Promise.reject(new Error('unable to open database file')))();
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('unable to open database file');
  });
});
