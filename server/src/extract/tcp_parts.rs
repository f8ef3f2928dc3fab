//! The stream transport's connection facts as extractors.
//!
//! ```
//! use rpckit::codec::PeerAddr;
//! use rpckit::tcp::{ConnectionId, LocalAddr};
//! use rpckit::Router;
//!
//! // Missing facts (a Unix socket has no peer address) fail the call with
//! // -32603; take an `Option` where a transport may not have them.
//! let api = Router::new().sync_method(
//!     "whoami",
//!     |id: ConnectionId, peer: Option<PeerAddr>, local: Option<LocalAddr>| {
//!         format!("connection {} from {:?} to {:?}", id.0, peer.map(|p| p.0), local.map(|l| l.0))
//!     },
//! );
//! # let _ = api;
//! ```

use rpckit_codec::ErrorObject;
use rpckit_tcp::{ConnectionId, LocalAddr, LocalPath, PeerCredentials};

use super::{extension, FromCall};
use crate::Call;

from_extension!(ConnectionId, LocalAddr, LocalPath, PeerCredentials);
