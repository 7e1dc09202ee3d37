//! `forward_write!`: the write half of a stream wrapper that only changes how it reads.

/// Implements `tokio::io::AsyncWrite` for a wrapper type by forwarding every method (vectored
/// writes included) to one of its fields.
///
/// The third argument names the type parameter of a generic wrapper, which is then required
/// to be `AsyncWrite + Unpin`.
///
/// ```
/// use xypro_core::forward_write;
///
/// /// Counts reads of the inner stream; writes go straight through.
/// struct Counted<S> {
///     io: S,
///     reads: u64,
/// }
///
/// forward_write!(Counted<S>, io, S);
///
/// fn is_async_write(_: &impl tokio::io::AsyncWrite) {}
/// is_async_write(&Counted { io: tokio::io::sink(), reads: 0 });
/// ```
#[macro_export]
macro_rules! forward_write {
    ($ty:ty, $field:ident $(, $param:ident)?) => {
        impl$(<$param: ::tokio::io::AsyncWrite + ::std::marker::Unpin>)? ::tokio::io::AsyncWrite
            for $ty
        {
            fn poll_write(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                ::std::pin::Pin::new(&mut self.$field).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                ::std::pin::Pin::new(&mut self.$field).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.$field.is_write_vectored()
            }

            fn poll_flush(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::pin::Pin::new(&mut self.$field).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::pin::Pin::new(&mut self.$field).poll_shutdown(cx)
            }
        }
    };
}
