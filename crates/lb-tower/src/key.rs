//! [`RequestKey`]: the bytes a hashing strategy hashes, taken from each request.

use http::header::HeaderName;

/// Takes the key a hashing strategy (consistent hashing, FNV hash) hashes from a request.
/// Strategies that do not hash ignore the key; [`NoKey`] (the default) gives an empty one.
///
/// Implemented by [`NoKey`], [`Header`] (an HTTP header, which is also how a gRPC metadata entry
/// travels), [`Path`] (an HTTP request's path), and closures `Fn(&Req) -> K` where `K` is any
/// `AsRef<[u8]>` (an owned key: `|req: &Request<_>| req.uri().path().to_owned()`). Implement it
/// for your own type to borrow a key from a request type of yours.
pub trait RequestKey<Req> {
    /// The key of `req`.
    fn key(&self, req: &Req) -> impl AsRef<[u8]>;
}

/// No key: every request hashes the empty key. The default of [`Balance`](crate::Balance), right
/// for strategies that do not hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKey;

impl<Req> RequestKey<Req> for NoKey {
    #[inline]
    fn key(&self, _req: &Req) -> impl AsRef<[u8]> {
        [0u8; 0]
    }
}

impl<Req, F, K> RequestKey<Req> for F
where
    F: Fn(&Req) -> K,
    K: AsRef<[u8]>,
{
    #[inline]
    fn key(&self, req: &Req) -> impl AsRef<[u8]> {
        // An owned key: it lives as long as the caller keeps it.
        Owned(self(req))
    }
}

/// A key that borrows nothing from the request.
struct Owned<K>(K);

impl<K: AsRef<[u8]>> AsRef<[u8]> for Owned<K> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// The value of an HTTP header (the first one of that name) as the key; the empty key when the
/// request has none. A gRPC metadata entry is a header: `Header::new("x-user-id")` keys tonic
/// requests too.
#[derive(Clone, Debug)]
pub struct Header(HeaderName);

impl Header {
    /// The header named `name`.
    pub fn new(name: HeaderName) -> Self {
        Header(name)
    }

    /// The header named `name` (a static string such as `"x-user-id"`). A name that is not a
    /// valid lowercase header name is a typed error.
    pub fn named(name: &str) -> Result<Self, http::header::InvalidHeaderName> {
        HeaderName::from_bytes(name.as_bytes()).map(Header)
    }
}

impl<B> RequestKey<http::Request<B>> for Header {
    #[inline]
    fn key(&self, req: &http::Request<B>) -> impl AsRef<[u8]> {
        req.headers()
            .get(&self.0)
            .map_or(&[][..], |value| value.as_bytes())
    }
}

/// The path of an HTTP request's URI as the key (without the query).
#[derive(Clone, Copy, Debug, Default)]
pub struct Path;

impl<B> RequestKey<http::Request<B>> for Path {
    #[inline]
    fn key(&self, req: &http::Request<B>) -> impl AsRef<[u8]> {
        req.uri().path().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of<K: RequestKey<http::Request<()>>>(k: &K, req: &http::Request<()>) -> Vec<u8> {
        k.key(req).as_ref().to_vec()
    }

    #[test]
    fn keys_come_from_headers_paths_and_closures() {
        let req = http::Request::get("/users/42?x=1")
            .header("x-user", "alice")
            .body(())
            .unwrap();
        assert_eq!(key_of(&Header::named("x-user").unwrap(), &req), b"alice");
        assert_eq!(key_of(&Header::named("x-other").unwrap(), &req), b"");
        assert_eq!(key_of(&Path, &req), b"/users/42");
        assert_eq!(key_of(&NoKey, &req), b"");
        let closure = |r: &http::Request<()>| r.uri().query().unwrap_or("").to_owned();
        assert_eq!(key_of(&closure, &req), b"x=1");
        assert!(Header::named("bad name").is_err());
    }
}
