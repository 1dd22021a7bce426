// api_probe's addition to /groupchat: marks the page so the test can see it ran.
document.body.dataset.probe = chat.socket() ? "socket" : "no socket";
