use highwater::store::migrations::{latest_version, migrate};

use crate::spawn_app;

#[tokio::test]
async fn migrations_are_recorded_and_running_them_again_changes_nothing() {
    let app = spawn_app("migrations").await;
    // spawn_app already migrated the fresh database.
    assert_eq!(migrate(&app.db).await.unwrap(), 0);
    let versions: Vec<u32> = app
        .db
        .query("SELECT version FROM highwater_migrations ORDER BY version")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(versions, (1..=latest_version()).collect::<Vec<_>>());
    let tables: Vec<String> = app
        .db
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        tables,
        [
            "concurrency_minutes",
            "daily_active_sets",
            "daily_figures",
            "events",
            "highwater_migrations",
            "session_days",
            "session_days_mv",
        ]
    );
    app.stop().await.unwrap();
}
