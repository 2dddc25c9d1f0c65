"""One-click unsubscribe (RFC 8058): sealed tokens, the HTTP endpoint, and the
`add_unsubscribe` action that writes personal List-Unsubscribe headers."""
