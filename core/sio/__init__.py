"""python-socketio and python-engineio adapted to this server: subclasses, driver, session loop, fan-out."""
