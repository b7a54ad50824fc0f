-- Tailnet Lock control state (SQLite). Hashes are 32 raw bytes; node keys
-- their `nodekey:` text; state IDs are u64 stored bit-for-bit as i64.
CREATE TABLE tka_tailnets (
    id                   TEXT    PRIMARY KEY NOT NULL,
    version              INTEGER NOT NULL DEFAULT 0,
    epoch                INTEGER NOT NULL DEFAULT 0,
    aum_seq              INTEGER NOT NULL DEFAULT 0,
    status               INTEGER NOT NULL DEFAULT 0,
    genesis              BLOB,
    head                 BLOB,
    last_active_ancestor BLOB,
    disablement_secret   BLOB,
    support_disablement  BLOB,
    pending_genesis      BLOB,
    pending_by           TEXT,
    disallowed_state_ids BLOB
);

CREATE TABLE tka_aums (
    tailnet     TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    aum         BLOB    NOT NULL,
    commit_time INTEGER NOT NULL,
    PRIMARY KEY (tailnet, epoch, seq),
    UNIQUE (tailnet, epoch, hash)
);

CREATE TABLE tka_nodes (
    tailnet         TEXT    NOT NULL,
    node_id         INTEGER NOT NULL,
    node_key        TEXT    NOT NULL,
    rotation_pubkey BLOB,
    key_signature   BLOB,
    PRIMARY KEY (tailnet, node_id),
    UNIQUE (tailnet, node_key)
);
