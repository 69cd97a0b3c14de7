//! What the store's test suites share: the stores to run on.

#![allow(dead_code)]

use vox_store::Store;

/// Each store with the URL it was opened with.
pub async fn stores() -> Vec<(Store, String)> {
    let dir =
        std::env::temp_dir().join(format!("vox-store-{}-{}", std::process::id(), uuid_like()));
    let sqlite = format!("sqlite://{}/vox.db", dir.display());
    let mut out = vec![(Store::connect(&sqlite).await.expect("sqlite"), sqlite)];
    match std::env::var("VOX_TEST_POSTGRES_URL") {
        Ok(url) => {
            // a schema of this run's own, so runs never see each other's tables or migrations
            let schema = format!("vox_test_{}", uuid_like());
            let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .expect("schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
            out.push((Store::connect(&url).await.expect("postgres"), url));
        }
        Err(_) => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL part SKIPPED: VOX_TEST_POSTGRES_URL is not set"
            );
        }
    }
    out
}

pub fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
