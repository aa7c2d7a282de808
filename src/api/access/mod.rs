//! Who may do what: API keys and their token buckets (`keys`), the limit
//! on failed keys per client address (`guard`), and what a request's
//! connection, proxies and browser say about it (`client`).

pub(crate) mod client;
pub(crate) mod guard;
pub mod keys;
