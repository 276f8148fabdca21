import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/client';
import { formatSpan } from '../../ui/format';
import { fieldErrors, formatDuration, grantState, roleSource, timeLeft, tokenState } from './model';

describe('fieldErrors', () => {
  it("reads google.rpc.BadRequest's violations and ignores other refusals", () => {
    const bad = new ApiError({
      status: 400,
      code: 3,
      message: 'id: "x" is not a UUID',
      fieldViolations: [{ field: 'id', description: '"x" is not a UUID' }],
    });
    expect(fieldErrors(bad)).toEqual({ id: '"x" is not a UUID' });
    expect(fieldErrors(new ApiError({ status: 409, code: 6, message: 'name: taken' }))).toEqual({});
    expect(fieldErrors(new Error('validation error: name: x'))).toEqual({});
  });
});

describe('times', () => {
  it('formats spans and durations the short way', () => {
    expect(formatSpan(45)).toBe('45 s');
    expect(formatSpan(100)).toBe('1 min 40 s');
    expect(formatSpan(9000)).toBe('2 h 30 min');
    expect(formatSpan(30 * 86_400)).toBe('30 d');
    expect(formatDuration('3600s')).toBe('1 h');
    expect(formatDuration('900s')).toBe('15 min');
    expect(formatDuration(undefined)).toBe('—');
  });

  it('says the time left until a moment, nothing once it passed', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(timeLeft('2026-01-01T01:00:30Z', now)).toBe('1 h');
    expect(timeLeft('2026-01-01T00:00:30Z', now)).toBe('30 s');
    expect(timeLeft('2025-12-31T23:59:59Z', now)).toBe('');
    expect(timeLeft(undefined, now)).toBe('');
  });
});

describe('states', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it("reads an active grant past its expiry as expired, as the server's next read would", () => {
    expect(grantState({ state: 'GRANT_STATE_ACTIVE', expireTime: '2026-01-01T00:00:01Z' }, now)).toBe('GRANT_STATE_ACTIVE');
    expect(grantState({ state: 'GRANT_STATE_ACTIVE', expireTime: '2025-12-31T00:00:00Z' }, now)).toBe('GRANT_STATE_EXPIRED');
    expect(grantState({ state: 'GRANT_STATE_PENDING' }, now)).toBe('GRANT_STATE_PENDING');
  });

  it("tells a token's state from its revocation and expiry", () => {
    expect(tokenState({ expireTime: '2026-02-01T00:00:00Z' }, now)).toBe('active');
    expect(tokenState({}, now)).toBe('active');
    expect(tokenState({ expireTime: '2025-02-01T00:00:00Z' }, now)).toBe('expired');
    expect(tokenState({ revokeTime: '2025-12-01T00:00:00Z', expireTime: '2025-02-01T00:00:00Z' }, now)).toBe('revoked');
  });

  it("names where a user's role comes from (protojson sends ROLE_UNSPECIFIED for none)", () => {
    expect(roleSource({ assignedRole: 'ROLE_ADMIN', mappedRole: 'ROLE_VIEWER' })).toBe('assigned by an admin');
    expect(roleSource({ assignedRole: 'ROLE_UNSPECIFIED', mappedRole: 'ROLE_VIEWER' })).toBe('role rules');
    expect(roleSource({ assignedRole: 'ROLE_UNSPECIFIED', mappedRole: 'ROLE_UNSPECIFIED' })).toBe('no rule matches');
  });
});
