-- Lightfast connections schema (SPEC §4). Gateway-owned tables carry the gw_ prefix; the Console owns
-- org_workspaces, workspace_integrations and workspace_observations. Both services share every table.

CREATE TABLE lightfast_gw_installations (
    id                    varchar(191) PRIMARY KEY,
    provider              varchar(32)  NOT NULL CHECK (provider IN ('github', 'vercel', 'linear', 'sentry')),
    external_id           varchar(191) NOT NULL,
    account_login         varchar(255),
    connected_by          varchar(191) NOT NULL,
    org_id                varchar(191) NOT NULL,
    status                varchar(32)  NOT NULL CHECK (status IN ('active', 'pending', 'error', 'revoked')),
    status_reason         varchar(255),
    webhook_secret        text,
    metadata              jsonb        NOT NULL DEFAULT '{}',
    provider_account_info jsonb,
    created_at            timestamptz  NOT NULL DEFAULT now(),
    updated_at            timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT gw_installations_provider_external_id_key UNIQUE (provider, external_id)
);
CREATE INDEX gw_installations_org_id_idx ON lightfast_gw_installations (org_id);
CREATE INDEX gw_installations_org_id_provider_idx ON lightfast_gw_installations (org_id, provider);
CREATE INDEX gw_installations_connected_by_idx ON lightfast_gw_installations (connected_by);

CREATE TABLE lightfast_gw_tokens (
    id                varchar(191) PRIMARY KEY,
    installation_id   varchar(191) NOT NULL
        REFERENCES lightfast_gw_installations (id) ON DELETE CASCADE,
    access_token      text         NOT NULL,
    refresh_token     text,
    expires_at        timestamptz,
    token_type        varchar(64),
    scope             text,
    version           bigint       NOT NULL DEFAULT 1,
    refresh_failed_at timestamptz,
    refresh_error     text,
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT gw_tokens_installation_id_key UNIQUE (installation_id)
);
CREATE INDEX gw_tokens_expires_at_idx ON lightfast_gw_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE lightfast_gw_resources (
    id                   varchar(191) PRIMARY KEY,
    installation_id      varchar(191) NOT NULL
        REFERENCES lightfast_gw_installations (id) ON DELETE CASCADE,
    provider_resource_id varchar(191) NOT NULL,
    resource_name        varchar(512),
    status               varchar(32)  NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT gw_resources_installation_id_provider_resource_id_key UNIQUE (installation_id, provider_resource_id)
);
CREATE INDEX gw_resources_provider_resource_id_idx ON lightfast_gw_resources (provider_resource_id);

CREATE TABLE lightfast_gw_webhook_deliveries (
    id                   varchar(191) PRIMARY KEY,
    provider             varchar(32)  NOT NULL CHECK (provider IN ('github', 'vercel', 'linear', 'sentry')),
    delivery_id          varchar(191) NOT NULL,
    event_type           varchar(191) NOT NULL,
    installation_id      varchar(191),
    provider_resource_id varchar(191),
    status               varchar(32)  NOT NULL
        CHECK (status IN ('received', 'delivered', 'ignored', 'unrouted', 'dlq')),
    payload              bytea,
    headers              jsonb        NOT NULL DEFAULT '{}',
    attempts             integer      NOT NULL DEFAULT 0,
    last_error           text,
    received_at          timestamptz  NOT NULL DEFAULT now(),
    processed_at         timestamptz,
    CONSTRAINT gw_webhook_deliveries_provider_delivery_id_key UNIQUE (provider, delivery_id)
);
CREATE INDEX gw_webhook_deliveries_status_received_at_idx ON lightfast_gw_webhook_deliveries (status, received_at);

CREATE TABLE lightfast_gw_oauth_states (
    state_hash    char(64)     PRIMARY KEY CHECK (state_hash ~ '^[0-9a-f]{64}$'),
    provider      varchar(32)  NOT NULL CHECK (provider IN ('github', 'vercel', 'linear', 'sentry')),
    org_id        varchar(191) NOT NULL,
    connected_by  varchar(191) NOT NULL,
    code_verifier text,
    return_to     text,
    expires_at    timestamptz  NOT NULL DEFAULT now() + interval '10 minutes',
    created_at    timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX gw_oauth_states_expires_at_idx ON lightfast_gw_oauth_states (expires_at);

CREATE TABLE lightfast_org_workspaces (
    id           varchar(191) PRIMARY KEY,
    clerk_org_id varchar(191) NOT NULL,
    name         varchar(191) NOT NULL,
    slug         varchar(191) NOT NULL,
    settings     jsonb        NOT NULL DEFAULT '{}',
    created_at   timestamptz  NOT NULL DEFAULT now(),
    updated_at   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT org_workspaces_clerk_org_id_slug_key UNIQUE (clerk_org_id, slug)
);

CREATE TABLE lightfast_workspace_integrations (
    id                   varchar(191) PRIMARY KEY,
    workspace_id         varchar(191) NOT NULL
        REFERENCES lightfast_org_workspaces (id) ON DELETE CASCADE,
    installation_id      varchar(191) NOT NULL
        CONSTRAINT workspace_integrations_installation_id_fkey
        REFERENCES lightfast_gw_installations (id),
    provider             varchar(32)  NOT NULL CHECK (provider IN ('github', 'vercel', 'linear', 'sentry')),
    provider_resource_id varchar(191) NOT NULL,
    resource_name        varchar(512) NOT NULL,
    resource_meta        jsonb,
    sync_config          jsonb        NOT NULL DEFAULT '{"events": [], "branches": [], "paths": [], "autoSync": true}',
    backfill_state       jsonb        NOT NULL DEFAULT '{"status": "idle", "progress": {"processed": 0}}',
    is_active            boolean      NOT NULL DEFAULT true,
    last_synced_at       timestamptz,
    last_sync_status     varchar(32),
    last_sync_error      text,
    document_count       integer      NOT NULL DEFAULT 0,
    connected_by         varchar(191),
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT workspace_integrations_workspace_installation_resource_key
        UNIQUE (workspace_id, installation_id, provider_resource_id)
);
CREATE INDEX workspace_integrations_installation_id_idx ON lightfast_workspace_integrations (installation_id);
CREATE INDEX workspace_integrations_provider_resource_idx
    ON lightfast_workspace_integrations (provider, provider_resource_id);

CREATE TABLE lightfast_workspace_observations (
    id             varchar(191) PRIMARY KEY,
    workspace_id   varchar(191) NOT NULL
        REFERENCES lightfast_org_workspaces (id) ON DELETE CASCADE,
    integration_id varchar(191)
        REFERENCES lightfast_workspace_integrations (id) ON DELETE SET NULL,
    provider       varchar(32)  NOT NULL CHECK (provider IN ('github', 'vercel', 'linear', 'sentry')),
    source_type    varchar(128) NOT NULL,
    source_id      varchar(512) NOT NULL,
    title          text         NOT NULL DEFAULT '',
    body           text,
    actor          jsonb,
    url            text,
    occurred_at    timestamptz  NOT NULL DEFAULT now(),
    metadata       jsonb        NOT NULL DEFAULT '{}',
    delivery_id    varchar(191),
    created_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT workspace_observations_workspace_id_source_id_key UNIQUE (workspace_id, source_id)
);
-- ListObservations: newest first with a keyset cursor on (occurred_at, id).
CREATE INDEX workspace_observations_workspace_occurred_idx
    ON lightfast_workspace_observations (workspace_id, occurred_at DESC, id DESC);
CREATE INDEX workspace_observations_integration_id_idx ON lightfast_workspace_observations (integration_id);
