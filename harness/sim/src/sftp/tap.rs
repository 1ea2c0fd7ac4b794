//! A byte stream whose reads something watches on the way in, and whose writes pass through
//! untouched: the idle watchdog ([`super::idle`]), the KEXINIT recorder ([`super::kexinit`]) and
//! the SFTP packet bound ([`super::framing`]) are each a [`Tap`] over the connection or channel.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What watches the bytes a [`Tap`] reads.
pub trait OnRead: Unpin {
    /// Sees `fresh`, the bytes one read just brought; returns how many of them the reader gets
    /// (fewer than all cuts the read short there).
    fn on_read(&mut self, fresh: &[u8]) -> usize;

    /// Whether the stream reads as ended from now on, whatever the inner stream holds.
    fn ended(&self) -> bool {
        false
    }
}

/// `inner`, with its reads watched by `on`.
pub struct Tap<S, T> {
    inner: S,
    on: T,
}

impl<S, T> Tap<S, T> {
    /// `inner`, watched by `on`.
    pub fn new(inner: S, on: T) -> Self {
        Self { inner, on }
    }
}

impl<S: AsyncRead + Unpin, T: OnRead> AsyncRead for Tap<S, T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.on.ended() {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let this = &mut *self;
            let keep = this.on.on_read(&buf.filled()[before..]);
            buf.set_filled(before + keep);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin, T: Unpin> AsyncWrite for Tap<S, T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
