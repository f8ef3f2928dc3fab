//! Stream transport for rpckit: TCP, Unix sockets and stdio (its own issue).
