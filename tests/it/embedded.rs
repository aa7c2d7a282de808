//! The embedded default: a second highwater command on the same data
//! directory shares the running server instead of fighting over it.

use highwater::config::Settings;
use highwater::startup::Storage;
use highwater::store::local_server::LocalClickHouse;

use crate::scratch_dir;

#[tokio::test]
async fn a_second_command_shares_the_running_embedded_server() {
    let data_dir = scratch_dir("shared-embedded");
    let owner = LocalClickHouse::start(&data_dir).await.unwrap();
    let settings = Settings {
        data_dir: data_dir.clone(),
        ..Settings::default()
    };
    let shared = Storage::open(&settings).await.unwrap();
    assert_eq!(shared.url, owner.url());
    assert!(
        !shared.owns_servers(),
        "the second command must not own the server"
    );
    shared.close().await;
    // Closing the sharer leaves the owner's server running.
    let ping = reqwest::get(format!("{}/ping", owner.url())).await.unwrap();
    assert!(ping.status().is_success());

    owner.stop().await;
    assert!(LocalClickHouse::advertised_url(&data_dir).is_none());
}
