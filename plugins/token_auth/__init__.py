"""Example authentication hook: refuse connections that do not present one of the configured tokens."""

from __future__ import annotations

import hmac

from core.api import ConnectionRefused, Field, PluginConfig, PluginContext

name = "token_auth"


class Config(PluginConfig):
    """Accepted tokens (set them from the environment: CHAT_PLUGINS__TOKEN_AUTH__TOKENS='[s3cret]')."""

    tokens: list[str] = Field(min_length=1)


def setup(ctx: PluginContext) -> None:
    """Check `auth.token` (JS: io(url, {auth: {token}})) on every connection, in every namespace."""
    accepted = [t.encode() for t in ctx.config.tokens]

    @ctx.on_connect(namespace="*")
    async def require_token(sid, environ, auth):
        token = auth.get("token") if isinstance(auth, dict) else None
        presented = token.encode() if isinstance(token, str) else b""
        # Compare against every token in constant time; never log the token itself.
        if not any(hmac.compare_digest(presented, t) for t in accepted):
            ctx.logger.warning("refused connection from %s: %s token", environ.get("REMOTE_ADDR"),
                               "invalid" if presented else "no")
            raise ConnectionRefused("authentication failed: missing or invalid token")
