//! [`SqlStore`]: the service's storage on SQLite (embedded default, one
//! file) or Postgres (shared by several replicas), one code path through
//! sqlx's `Any` driver. The dialects differ in two places only: the column
//! types of the migrations (`migrations/sqlite`, `migrations/postgres`)
//! and how a tailnet is locked.
//!
//! # No lost update
//!
//! Every change runs read-decide-write inside one transaction holding the
//! tailnet's lock: on Postgres `SELECT ... FOR UPDATE` on the tailnet's
//! row (so replicas serialise on it), on SQLite `BEGIN IMMEDIATE` (the
//! database's single write lock). The row's `version` is also checked
//! when it is written, so a write that somehow raced is refused rather
//! than applied.

use crate::error::StoreError;
use crate::model::{AumRow, LockStatus, NodeQuery, NodeRecord, TailnetId, TailnetRow, Update};
use crate::store::{ControlStore, LockedTailnet};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::path::Path;
use std::str::FromStr;
use tka::{AumHash, NodeKey};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`SqlStore`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A Postgres database.
    Postgres,
}

/// The service's storage in SQLite or Postgres.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

const ROW_COLUMNS: &str = "version, epoch, aum_seq, status, genesis, head, \
     last_active_ancestor, disablement_secret, support_disablement, pending_genesis, \
     pending_by, disallowed_state_ids";

impl SqlStore {
    /// Opens (creating if missing) the SQLite database at `path`, in WAL
    /// mode, and runs the migrations.
    pub async fn sqlite(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let path = path.as_ref().to_string_lossy().into_owned();
        let mut encoded = String::with_capacity(path.len());
        for c in path.chars() {
            match c {
                '%' | '?' | '#' | ' ' => encoded.push_str(&format!("%{:02X}", c as u32)),
                c => encoded.push(c),
            }
        }
        let url = format!("sqlite://{encoded}?mode=rwc");
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 60000").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        pool.execute("PRAGMA journal_mode = WAL").await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(SqlStore {
            pool,
            backend: Backend::Sqlite,
        })
    }

    /// Connects to the Postgres database at `url` (e.g.
    /// `postgres://user:pass@host/db`; add `?options=-c%20search_path%3Dname`
    /// to use a schema) and runs the migrations.
    pub async fn postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(SqlStore {
            pool,
            backend: Backend::Postgres,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await
    }

    async fn begin_read(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            // A deferred transaction reads one WAL snapshot.
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

fn opt_hash(v: Option<Vec<u8>>, col: &str) -> Result<Option<AumHash>, StoreError> {
    v.map(|b| AumHash::from_slice(&b).map_err(|e| corrupt(format!("{col}: {e}"))))
        .transpose()
}

fn parse_row(r: &AnyRow) -> Result<TailnetRow, StoreError> {
    let status: i64 = r.try_get("status")?;
    let pending_by: Option<String> = r.try_get("pending_by")?;
    let disallowed: Option<Vec<u8>> = r.try_get("disallowed_state_ids")?;
    let disallowed = disallowed.unwrap_or_default();
    if !disallowed.len().is_multiple_of(16) {
        return Err(corrupt("disallowed_state_ids length"));
    }
    Ok(TailnetRow {
        version: r.try_get("version")?,
        epoch: r.try_get("epoch")?,
        aum_seq: r.try_get("aum_seq")?,
        status: LockStatus::from_i64(status).ok_or_else(|| corrupt(format!("status {status}")))?,
        genesis: r.try_get("genesis")?,
        head: opt_hash(r.try_get("head")?, "head")?,
        last_active_ancestor: opt_hash(r.try_get("last_active_ancestor")?, "last_active_ancestor")?,
        disablement_secret: r.try_get("disablement_secret")?,
        support_disablement: r.try_get("support_disablement")?,
        pending_genesis: r.try_get("pending_genesis")?,
        pending_by: pending_by
            .map(|s| NodeKey::from_str(&s).map_err(|e| corrupt(format!("pending_by: {e}"))))
            .transpose()?,
        disallowed_state_ids: disallowed
            .chunks_exact(16)
            .map(|c| {
                let a = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
                let b = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
                (a, b)
            })
            .collect(),
    })
}

fn parse_node(r: &AnyRow) -> Result<NodeRecord, StoreError> {
    let key: String = r.try_get("node_key")?;
    Ok(NodeRecord {
        id: r.try_get("node_id")?,
        key: NodeKey::from_str(&key).map_err(|e| corrupt(format!("node_key: {e}")))?,
        rotation_pubkey: r.try_get("rotation_pubkey")?,
        key_signature: r.try_get("key_signature")?,
    })
}

fn parse_aum(r: &AnyRow) -> Result<AumRow, StoreError> {
    Ok(AumRow {
        seq: r.try_get("seq")?,
        aum: r.try_get("aum")?,
    })
}

async fn select_row<'e, E: Executor<'e, Database = Any>>(
    e: E,
    tailnet: &TailnetId,
    for_update: bool,
) -> Result<Option<TailnetRow>, StoreError> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM tka_tailnets WHERE id = $1{}",
        if for_update { " FOR UPDATE" } else { "" }
    );
    let r = sqlx::query(&sql).bind(&tailnet.0).fetch_optional(e).await?;
    r.as_ref().map(parse_row).transpose()
}

async fn select_aums<'e, E: Executor<'e, Database = Any>>(
    e: E,
    tailnet: &TailnetId,
    epoch: i64,
    after_seq: i64,
) -> Result<Vec<AumRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, aum FROM tka_aums WHERE tailnet = $1 AND epoch = $2 AND seq > $3 ORDER BY seq",
    )
    .bind(&tailnet.0)
    .bind(epoch)
    .bind(after_seq)
    .fetch_all(e)
    .await?;
    rows.iter().map(parse_aum).collect()
}

async fn select_nodes<'e, E: Executor<'e, Database = Any>>(
    e: E,
    tailnet: &TailnetId,
    key: Option<&NodeKey>,
) -> Result<Vec<NodeRecord>, StoreError> {
    const COLS: &str = "node_id, node_key, rotation_pubkey, key_signature";
    let rows = match key {
        None => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM tka_nodes WHERE tailnet = $1 ORDER BY node_id"
            ))
            .bind(&tailnet.0)
            .fetch_all(e)
            .await?
        }
        Some(k) => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM tka_nodes WHERE tailnet = $1 AND node_key = $2"
            ))
            .bind(&tailnet.0)
            .bind(k.to_string())
            .fetch_all(e)
            .await?
        }
    };
    rows.iter().map(parse_node).collect()
}

impl ControlStore for SqlStore {
    type Locked = SqlLocked;

    async fn row(&self, tailnet: &TailnetId) -> Result<Option<TailnetRow>, StoreError> {
        select_row(&self.pool, tailnet, false).await
    }

    async fn read_chain(
        &self,
        tailnet: &TailnetId,
        after_seq: i64,
    ) -> Result<(Option<TailnetRow>, Vec<AumRow>), StoreError> {
        let mut tx = self.begin_read().await?;
        let row = select_row(&mut *tx, tailnet, false).await?;
        let aums = match &row {
            Some(r) if r.status == LockStatus::Enabled => {
                select_aums(&mut *tx, tailnet, r.epoch, after_seq).await?
            }
            _ => Vec::new(),
        };
        tx.commit().await?;
        Ok((row, aums))
    }

    async fn nodes(&self, tailnet: &TailnetId) -> Result<Vec<NodeRecord>, StoreError> {
        select_nodes(&self.pool, tailnet, None).await
    }

    async fn upsert_node(&self, tailnet: &TailnetId, node: &NodeRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tka_nodes (tailnet, node_id, node_key, rotation_pubkey, key_signature) \
             VALUES ($1, $2, $3, $4, NULL) \
             ON CONFLICT (tailnet, node_id) DO UPDATE SET \
               key_signature = CASE WHEN tka_nodes.node_key = excluded.node_key \
                 THEN tka_nodes.key_signature ELSE NULL END, \
               node_key = excluded.node_key, \
               rotation_pubkey = excluded.rotation_pubkey",
        )
        .bind(&tailnet.0)
        .bind(node.id)
        .bind(node.key.to_string())
        .bind(node.rotation_pubkey.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn register_key(&self, tailnet: &TailnetId, key: &NodeKey) -> Result<i64, StoreError> {
        let text = key.to_string();
        for _ in 0..16 {
            let found =
                sqlx::query("SELECT node_id FROM tka_nodes WHERE tailnet = $1 AND node_key = $2")
                    .bind(&tailnet.0)
                    .bind(&text)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(r) = found {
                return Ok(r.try_get("node_id")?);
            }
            // Two registrations racing for the same ID: one inserts, the
            // other does nothing and looks again.
            sqlx::query(
                "INSERT INTO tka_nodes (tailnet, node_id, node_key) \
                 SELECT $1, COALESCE(MAX(node_id), 0) + 1, $2 FROM tka_nodes WHERE tailnet = $1 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&tailnet.0)
            .bind(&text)
            .execute(&self.pool)
            .await?;
        }
        Err(StoreError::Conflict(tailnet.0.clone()))
    }

    async fn remove_node(&self, tailnet: &TailnetId, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tka_nodes WHERE tailnet = $1 AND node_id = $2")
            .bind(&tailnet.0)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn lock(&self, tailnet: &TailnetId) -> Result<SqlLocked, StoreError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        sqlx::query("INSERT INTO tka_tailnets (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
            .bind(&tailnet.0)
            .execute(&mut *tx)
            .await?;
        let for_update = self.backend == Backend::Postgres;
        let row = select_row(&mut *tx, tailnet, for_update)
            .await?
            .ok_or_else(|| corrupt("tailnet row vanished"))?;
        Ok(SqlLocked {
            tx,
            tailnet: tailnet.clone(),
            row,
        })
    }
}

/// A tailnet locked in a [`SqlStore`] transaction.
pub struct SqlLocked {
    tx: Transaction<'static, Any>,
    tailnet: TailnetId,
    row: TailnetRow,
}

impl std::fmt::Debug for SqlLocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlLocked")
            .field("tailnet", &self.tailnet)
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

fn disallowed_bytes(ids: &[(u64, u64)]) -> Option<Vec<u8>> {
    if ids.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(ids.len() * 16);
    for (a, b) in ids {
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    }
    Some(out)
}

impl LockedTailnet for SqlLocked {
    async fn row(&mut self) -> Result<TailnetRow, StoreError> {
        Ok(self.row.clone())
    }

    async fn aums(&mut self, epoch: i64, after_seq: i64) -> Result<Vec<AumRow>, StoreError> {
        select_aums(&mut *self.tx, &self.tailnet, epoch, after_seq).await
    }

    async fn nodes(&mut self, query: &NodeQuery) -> Result<Vec<NodeRecord>, StoreError> {
        match query {
            NodeQuery::None => Ok(Vec::new()),
            NodeQuery::All => select_nodes(&mut *self.tx, &self.tailnet, None).await,
            NodeQuery::ByKey(k) => select_nodes(&mut *self.tx, &self.tailnet, Some(k)).await,
        }
    }

    async fn apply(&mut self, expected_version: i64, u: &Update) -> Result<(), StoreError> {
        let t = &self.tailnet.0;
        if let Some(row) = &u.row {
            let done = sqlx::query(
                "UPDATE tka_tailnets SET version = $2, epoch = $3, aum_seq = $4, status = $5, \
                 genesis = $6, head = $7, last_active_ancestor = $8, disablement_secret = $9, \
                 support_disablement = $10, pending_genesis = $11, pending_by = $12, \
                 disallowed_state_ids = $13 WHERE id = $1 AND version = $14",
            )
            .bind(t)
            .bind(row.version)
            .bind(row.epoch)
            .bind(row.aum_seq)
            .bind(row.status.to_i64())
            .bind(row.genesis.clone())
            .bind(row.head.map(|h| h.0.to_vec()))
            .bind(row.last_active_ancestor.map(|h| h.0.to_vec()))
            .bind(row.disablement_secret.clone())
            .bind(row.support_disablement.clone())
            .bind(row.pending_genesis.clone())
            .bind(row.pending_by.map(|k| k.to_string()))
            .bind(disallowed_bytes(&row.disallowed_state_ids))
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(t.clone()));
            }
        }
        if u.wipe_aums {
            sqlx::query("DELETE FROM tka_aums WHERE tailnet = $1")
                .bind(t)
                .execute(&mut *self.tx)
                .await?;
        }
        let epoch = u.row.as_ref().map_or(self.row.epoch, |r| r.epoch);
        let now = i64::try_from(u.now).unwrap_or(i64::MAX);
        for a in &u.new_aums {
            sqlx::query(
                "INSERT INTO tka_aums (tailnet, epoch, seq, hash, aum, commit_time) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(t)
            .bind(epoch)
            .bind(a.seq)
            .bind(a.hash.0.to_vec())
            .bind(a.aum.clone())
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        }
        if u.clear_signatures {
            sqlx::query("UPDATE tka_nodes SET key_signature = NULL WHERE tailnet = $1")
                .bind(t)
                .execute(&mut *self.tx)
                .await?;
        }
        for (id, key, sig) in &u.signatures {
            sqlx::query(
                "UPDATE tka_nodes SET key_signature = $4 \
                 WHERE tailnet = $1 AND node_id = $2 AND node_key = $3",
            )
            .bind(t)
            .bind(*id)
            .bind(key.to_string())
            .bind(sig.clone())
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
