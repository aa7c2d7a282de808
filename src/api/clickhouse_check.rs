//! The readiness check's view of ClickHouse, shared by every `/readyz`.

use std::time::{Duration, Instant};

/// How long one answer of ClickHouse stands for every `/readyz`.
const CHECK_FRESH: Duration = Duration::from_secs(1);

/// The last ClickHouse check, shared: one `SELECT 1` a second at most,
/// however often `/readyz` is asked (concurrent callers wait for the one
/// check in progress instead of starting their own).
#[derive(Debug, Default)]
pub struct ClickHouseCheck {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl ClickHouseCheck {
    /// The last result if fresh, else that of `check`, run now.
    pub async fn result(
        &self,
        check: impl std::future::Future<Output = Result<(), String>>,
    ) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = &*last
            && at.elapsed() < CHECK_FRESH
        {
            return result.clone();
        }
        let result = check.await;
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn many_readiness_checks_at_once_ask_clickhouse_once() {
        let check = Arc::new(ClickHouseCheck::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..100)
            .map(|_| {
                let (check, asked) = (check.clone(), asked.clone());
                tokio::spawn(async move {
                    check
                        .result(async {
                            asked.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Err("down".to_owned())
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Err("down".to_owned()));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // Stale after a second: asked again.
        tokio::time::sleep(CHECK_FRESH).await;
        check.result(async { Ok(()) }).await.unwrap();
    }
}
