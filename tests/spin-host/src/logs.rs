//! Log lines of a host: guest stdout/stderr and host warnings, each prefixed with the component
//! id, written to the process's stderr and kept in memory for tests.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A shared, append-only log.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    /// Records `[component] line` and echoes it to stderr.
    pub fn line(&self, component: &str, line: &str) {
        let line = format!("[{component}] {line}");
        eprintln!("{line}");
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    /// Every line so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// A guest output stream (stdout or stderr) logging under `component`.
    pub fn guest_output(&self, component: &str) -> GuestOutput {
        GuestOutput(Arc::new(LineBuffer {
            logs: self.clone(),
            component: component.to_string(),
            pending: Mutex::new(Vec::new()),
        }))
    }
}

/// Splits guest output into lines; a partial last line is logged when the instance ends.
struct LineBuffer {
    logs: Logs,
    component: String,
    pending: Mutex<Vec<u8>>,
}

impl LineBuffer {
    fn write(&self, bytes: &[u8]) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        pending.extend_from_slice(bytes);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..pos]);
            self.logs.line(&self.component, text.trim_end_matches('\r'));
        }
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if let Ok(pending) = self.pending.lock() {
            if !pending.is_empty() {
                self.logs
                    .line(&self.component, &String::from_utf8_lossy(&pending));
            }
        }
    }
}

/// A guest's stdout or stderr; every stream the guest opens shares one line buffer.
#[derive(Clone)]
pub(crate) struct GuestOutput(Arc<LineBuffer>);

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.write(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_output_is_split_into_prefixed_lines() {
        let logs = Logs::default();
        {
            let out = logs.guest_output("router");
            out.0.write(b"Handler returned ");
            out.0.write(b"an error: x\nsecond\r\npart");
        }
        assert_eq!(
            logs.snapshot(),
            [
                "[router] Handler returned an error: x",
                "[router] second",
                "[router] part"
            ]
        );
    }
}
