"""RFC 6455 without I/O: frames, the handshake answer, the frame parser."""
