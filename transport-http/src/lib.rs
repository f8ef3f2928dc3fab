//! HTTP transport for rpckit.
