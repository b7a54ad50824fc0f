-- Tailnet Lock control state (Postgres). Hashes are 32 raw bytes; node keys
-- their `nodekey:` text; state IDs are u64 stored bit-for-bit as i64.
CREATE TABLE tka_tailnets (
    id                   TEXT    PRIMARY KEY NOT NULL,
    version              BIGINT  NOT NULL DEFAULT 0,
    epoch                BIGINT  NOT NULL DEFAULT 0,
    aum_seq              BIGINT  NOT NULL DEFAULT 0,
    status               BIGINT  NOT NULL DEFAULT 0,
    genesis              BYTEA,
    head                 BYTEA,
    last_active_ancestor BYTEA,
    disablement_secret   BYTEA,
    support_disablement  BYTEA,
    pending_genesis      BYTEA,
    pending_by           TEXT,
    disallowed_state_ids BYTEA
);

CREATE TABLE tka_aums (
    tailnet     TEXT    NOT NULL,
    epoch       BIGINT  NOT NULL,
    seq         BIGINT  NOT NULL,
    hash        BYTEA    NOT NULL,
    aum         BYTEA    NOT NULL,
    commit_time BIGINT  NOT NULL,
    PRIMARY KEY (tailnet, epoch, seq),
    UNIQUE (tailnet, epoch, hash)
);

CREATE TABLE tka_nodes (
    tailnet         TEXT    NOT NULL,
    node_id         BIGINT  NOT NULL,
    node_key        TEXT    NOT NULL,
    rotation_pubkey BYTEA,
    key_signature   BYTEA,
    PRIMARY KEY (tailnet, node_id),
    UNIQUE (tailnet, node_key)
);
