-- +goose Up

-- People who have logged in (through OIDC, or the labelled dev login, whose
-- issuer is 'dev'). Roles are portal.auth.v1.Role numbers: 1 viewer,
-- 2 operator, 3 admin.
CREATE TABLE identity.users (
    id            uuid PRIMARY KEY,
    issuer        text NOT NULL,
    oidc_subject  text NOT NULL,
    email         text NOT NULL DEFAULT '',
    name          text NOT NULL DEFAULT '',
    groups        text[] NOT NULL DEFAULT '{}',
    -- Set by an admin; NULL means AUTH_ROLE_RULES / AUTH_DEFAULT_ROLE apply.
    assigned_role smallint CHECK (assigned_role BETWEEN 1 AND 3),
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz NOT NULL,
    -- The etag.
    version       bigint NOT NULL DEFAULT 1,
    UNIQUE (issuer, oidc_subject)
);

-- Keyset paging in email order.
CREATE INDEX users_email ON identity.users (email, id);

-- Browser sessions. The cookie holds a random 256-bit value; only its SHA-256
-- is stored, so a copy of this table opens no session.
CREATE TABLE identity.sessions (
    id                  bytea PRIMARY KEY CHECK (length(id) = 32),
    user_id             uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('user', 'dev')),
    -- The role a dev login asked for; NULL for OIDC sessions.
    dev_role            smallint CHECK (dev_role BETWEEN 1 AND 3),
    csrf_token          text NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    -- Idle expiry, slid forward by use, never past absolute_expires_at.
    expires_at          timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    ended_at            timestamptz,
    end_reason          text NOT NULL DEFAULT '',
    remote_addr         text NOT NULL DEFAULT '',
    user_agent          text NOT NULL DEFAULT '',
    CHECK (expires_at <= absolute_expires_at)
);

CREATE INDEX sessions_user ON identity.sessions (user_id);
CREATE INDEX sessions_absolute ON identity.sessions (absolute_expires_at);

-- Logins in progress: consumed with DELETE ... RETURNING, so each is used once.
CREATE TABLE identity.login_states (
    state       text PRIMARY KEY,
    verifier    text NOT NULL,
    nonce       text NOT NULL,
    redirect_to text NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE INDEX login_states_expires ON identity.login_states (expires_at);

-- API tokens: only the SHA-256 of the secret is stored.
CREATE TABLE identity.api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    role         smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
    prefix       text NOT NULL,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- A name is unique among tokens not revoked (an expired one is marked revoked
-- at its expiry when its name is reused).
CREATE UNIQUE INDEX api_tokens_active_name ON identity.api_tokens (name) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_created ON identity.api_tokens (created_at, id);

-- Temporary raises of a user's role. EXPIRED is not stored: an ACTIVE grant
-- whose expires_at has passed is expired, so a grant stops at its time with no
-- job to run.
CREATE TABLE identity.grants (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    role            smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
    reason          text NOT NULL,
    duration_ms     bigint NOT NULL CHECK (duration_ms > 0),
    state           text NOT NULL CHECK (state IN ('PENDING', 'ACTIVE', 'DENIED', 'REVOKED')),
    requested_at    timestamptz NOT NULL,
    decided_by      text NOT NULL DEFAULT '',
    decided_at      timestamptz,
    decision_reason text NOT NULL DEFAULT '',
    expires_at      timestamptz,
    CHECK (state <> 'ACTIVE' OR expires_at IS NOT NULL)
);

CREATE INDEX grants_user_active ON identity.grants (user_id, expires_at) WHERE state = 'ACTIVE';
CREATE INDEX grants_requested ON identity.grants (requested_at, id);

-- The transactional outbox (see platform/outbox).
CREATE TABLE identity.outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    subject    text NOT NULL,
    headers    jsonb NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE identity.outbox;
DROP TABLE identity.grants;
DROP TABLE identity.api_tokens;
DROP TABLE identity.login_states;
DROP TABLE identity.sessions;
DROP TABLE identity.users;
