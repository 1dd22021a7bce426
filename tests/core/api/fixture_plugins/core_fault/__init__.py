"""Test-only fault injection: bugs inside core itself (not in a plugin), to check who gets blamed.

A real plugin never reaches core's internals; this one does on purpose, in the server process:
- the rate limiter core's handler wrapper calls first (core.policies.limits.Limits.admit) raises
  for the event `fault_in_limiter`;
- a handler registered on python-socketio directly, around core's wrapper, raises for `raw_fault`.
"""

from core.api import PluginContext


def setup(ctx: PluginContext) -> None:
    admit = ctx._registry.admit  # Limits.admit of this server, bound

    async def faulty_admit(sid, event, namespace="/"):
        if event == "fault_in_limiter":
            raise RuntimeError("injected fault in the rate limiter")
        return await admit(sid, event, namespace)

    ctx._registry.admit = faulty_admit  # what ctx.on wraps every handler with from here on

    async def raw_fault(sid, *args):
        raise RuntimeError("injected fault outside any plugin handler")

    ctx._sio.on("raw_fault", raw_fault)

    @ctx.on("fault_in_limiter")
    async def never_reached(sid):
        return None
