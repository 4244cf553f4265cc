import { describe, expect, it } from 'vitest';
import { isDigest, isRepositoryName, isTag } from '../../../src/registry/v2/reference.js';
import { CATALOG_SCOPE, parseScope, parseScopes, repositoryScope } from '../../../src/registry/v2/scope.js';

describe('scopes', () => {
  it('formats repository scopes', () => {
    expect(repositoryScope('team/app', ['pull', 'push'])).toBe('repository:team/app:pull,push');
  });

  it('splits the type at the first colon and the actions at the last, so names may hold host:port', () => {
    expect(parseScope('repository:127.0.0.1:5000/team/app:pull,push')).toEqual({
      type: 'repository',
      name: '127.0.0.1:5000/team/app',
      actions: ['pull', 'push'],
    });
    expect(parseScope(CATALOG_SCOPE)).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
  });

  it('rejects malformed scopes', () => {
    expect(parseScope('repository')).toBeNull();
    expect(parseScope('repository:team/app')).toBeNull();
    expect(parseScope(':team/app:pull')).toBeNull();
  });

  it('merges repeated and space-separated scopes per resource, dropping malformed ones', () => {
    expect(
      parseScopes(['repository:team/app:pull repository:public/app:pull', 'repository:team/app:push,pull', 'junk']),
    ).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'public/app', actions: ['pull'] },
    ]);
  });
});

describe('references', () => {
  it.each(['team/app', 'a', 'a0/b-c/d_e/f.g', 'x__y/z--w'])('accepts repository name %s', (name) => {
    expect(isRepositoryName(name)).toBe(true);
  });

  it.each(['', 'Team/app', 'team//app', '../etc', 'team/app/', 'team/app?x', `${'a'.repeat(256)}`])(
    'rejects repository name %j',
    (name) => {
      expect(isRepositoryName(name)).toBe(false);
    },
  );

  it('tells tags from digests', () => {
    expect(isTag('v1.2.3-rc_1')).toBe(true);
    expect(isTag('.hidden')).toBe(false);
    expect(isTag('a'.repeat(129))).toBe(false);
    expect(isDigest(`sha256:${'0'.repeat(64)}`)).toBe(true);
    expect(isDigest('sha256:xyz')).toBe(false);
    expect(isDigest('v1')).toBe(false);
  });
});
