"""Serves the Node tutorial's own page (io.connect('/'), default transports) at /tutorial.html."""

from core.api import PluginContext, text_response

name = "tutorial_page"

# As the tutorial's users wrote it: the served client, io.connect('/'), no options.
TUTORIAL = """<!doctype html><meta charset="utf-8"><title>tutorial</title>
<ul id="log"></ul>
<script src="/socket.io/socket.io.js"></script>
<script>
  var socket = io.connect('/');
  socket.on('connect', function () { document.title = 'connected'; });
  socket.on('receiveAll', function (msg) {
    var li = document.createElement('li'); li.textContent = msg;
    document.getElementById('log').appendChild(li);
  });
</script>"""


def setup(ctx: PluginContext) -> None:
    """GET /tutorial.html: the constant page above (no user text in it)."""

    async def page(request):
        return text_response(TUTORIAL, content_type="text/html; charset=utf-8")

    ctx.add_route(page, "/tutorial.html")
