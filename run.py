"""Start the chat server: `python run.py [--config FILE] [--port N]`."""

import sys

from core.host.cli import main

if __name__ == "__main__":
    sys.exit(main())
