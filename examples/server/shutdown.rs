//! One shutdown signal (SIGTERM or Ctrl-C), shared by the server and the background tasks.

use tokio::sync::watch;

/// Completes, for every clone, once the process is asked to stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Starts listening for SIGTERM and Ctrl-C.
    pub fn on_signals() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            // Receivers may all be gone already; then nobody is left to tell.
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    /// Waits for the signal (at once if it already came).
    pub async fn wait(mut self) {
        // An error means the sender is gone, which only happens after it sent.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
