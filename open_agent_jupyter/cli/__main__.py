"""`python -m open_agent_jupyter.cli`."""

import sys

from . import main

sys.exit(main())
