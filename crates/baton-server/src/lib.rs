//! Baton HTTP server.
